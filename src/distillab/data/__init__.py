"""Harvesting teacher data: prompt files in, a resumable Parquet dataset with a manifest out.

Entry points: `distillab.data.harvest.run_harvest(HarvestConfig(...))` (the `distillab generate`
command), `distillab.data.records.read_records(out_dir)`. The formats are in docs/data-formats.md.
Nothing is imported here, so `distillab --help` does not pay for pyarrow.
"""
