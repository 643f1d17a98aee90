"""A harvest directory on disk: what is already done, and folding the journal into Parquet.

Layout: `OUT/data/train-00000-of-00001.parquet` (so `datasets.load_dataset(OUT)` finds a train split),
`OUT/manifest.json`, and the hidden journal `OUT/.journal/`. Compaction writes a temporary file,
fsyncs it and renames it over the old one, so a crash leaves either the old or the new Parquet file;
only then is the journal removed. Records are deduplicated by id on the way, so a crash between the
rename and the journal removal costs nothing on the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillab.data.journal import fsync_dir, journal_dir, journal_files, read_journal, remove_journal
from distillab.data.records import SCHEMA, conform, data_files, to_table

DATA_FILE = "data/train-00000-of-00001.parquet"
BATCH = 1000


@dataclass
class DoneSet:
    """Records already stored (Parquet or journal): their ids, and the tokens they cost."""

    ids: set[str] = field(default_factory=set)
    prompt_tokens: float = 0.0
    """Billed prompt tokens: each request's count shared by the samples it produced."""
    completion_tokens: int = 0

    def add(self, record_id: str, usage: dict[str, Any] | None) -> None:
        if record_id in self.ids:
            return
        self.ids.add(record_id)
        if usage:
            self.prompt_tokens += usage["prompt_tokens"] / max(1, usage["request_samples"])
            self.completion_tokens += usage["completion_tokens"]


def load_done(out: Path) -> DoneSet:
    """Everything already harvested into `out`, from Parquet and (complete lines of) the journal."""
    done = DoneSet()
    for path in data_files(out):
        table = pq.read_table(path, columns=["id", "usage"])
        for record_id, usage in zip(table["id"].to_pylist(), table["usage"].to_pylist()):
            done.add(record_id, usage)
    for record in read_journal(out):
        done.add(record["id"], record.get("usage"))
    return done


def _chunks(records: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(records, BATCH)):
        yield chunk


def compact(out: Path) -> int:
    """Fold the journal into the Parquet file (deduplicated by id); returns the number of records stored."""
    final = out / DATA_FILE
    if final.exists() and not any(p.stat().st_size for p in journal_files(out)):
        remove_journal(out)
        return pq.ParquetFile(final).metadata.num_rows
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.*.tmp"):  # left by a compaction that was killed
        stale.unlink()
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    seen: set[str] = set()
    count = 0
    with pq.ParquetWriter(tmp, SCHEMA, compression="zstd", compression_level=9) as writer:

        def write(table: pa.Table) -> None:
            nonlocal count
            ids = table["id"].to_pylist()
            keep = [i not in seen and not seen.add(i) for i in ids]  # type: ignore[func-returns-value]
            if not all(keep):
                table = table.filter(pa.array(keep))
            if table.num_rows:
                writer.write_table(table)
                count += table.num_rows

        for path in data_files(out):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
                write(conform(pa.Table.from_batches([batch])))
        for chunk in _chunks(read_journal(out)):
            write(to_table(chunk))
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)
    for stale in data_files(out):
        if stale != final:
            stale.unlink()
    remove_journal(out)
    return count


def count_stored(out: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in data_files(out))


def has_harvest(out: Path) -> bool:
    return bool(data_files(out)) or journal_dir(out).exists() or (out / "manifest.json").exists()


def ids_in(out: Path) -> list[str]:
    """Ids of stored records, in file order (tests use this to check for duplicates)."""
    return [i for p in data_files(out) for i in pq.read_table(p, columns=["id"])["id"].to_pylist()]
