"""Writing simulated request logs (.jsonl or .parquet) and their labels (.jsonl or .csv), atomically.

JSONL records are nested exactly like `distillab logs export` writes them. Parquet has one fixed flat
schema, `db.schema.log_parquet_schema(audited=False)`: the gateway export's columns without `id`,
`decision` and `reason`; `messages`, `prompt` and `params` are JSON text columns (decode with
`json.loads`), because their shapes vary per request. Both load with
`datasets.load_dataset("json" | "parquet", data_files=FILE)`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from distillab.atomic import atomic_path as atomic
from distillab.db.schema import JSON_FIELDS, RECORD_FIELDS, log_parquet_schema

FIELDS = RECORD_FIELDS
LABEL_FIELDS = ("account", "label", "kind")
CHUNK = 20_000
_encode = json.JSONEncoder(check_circular=False).encode  # our records hold no cycles


def write_records(records: Iterable[dict[str, Any]], out: Path) -> int:
    """Stream `records` to `out` (.jsonl or .parquet) in chunks; returns how many were written."""
    records = iter(records)
    count = 0
    if out.suffix == ".jsonl":
        with atomic(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            while chunk := list(islice(records, CHUNK)):
                fh.write("".join(_encode(record) + "\n" for record in chunk))
                count += len(chunk)
        return count
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = log_parquet_schema(audited=False)
    with atomic(out) as tmp, pq.ParquetWriter(str(tmp), schema, compression="zstd") as writer:
        while chunk := list(islice(records, CHUNK)):
            columns = {name: [record[name] for record in chunk] for name in FIELDS}
            for name in JSON_FIELDS:
                columns[name] = [None if v is None else _encode(v) for v in columns[name]]
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            count += len(chunk)
    return count


def write_labels(labels: list[dict[str, str]], path: Path) -> None:
    """One row per account: account, label (`benign` or a campaign id), kind (persona or strategy)."""
    with atomic(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        if path.suffix == ".csv":
            writer = csv.DictWriter(fh, fieldnames=LABEL_FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(labels)
        else:
            fh.writelines(json.dumps(row) + "\n" for row in labels)


def read_labels(path: Path) -> dict[str, dict[str, str]]:
    """account -> {label, kind} from a labels file written by `write_labels`."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = (
            list(csv.DictReader(fh))
            if path.suffix == ".csv"
            else [json.loads(line) for line in fh if line.strip()]
        )
    return {row["account"]: {"label": row["label"], "kind": row["kind"]} for row in rows}
