"""Write a `Traffic` as a request log (.jsonl with nested fields, or .parquet in the flat schema
`distillab logs export` writes, `messages`/`prompt`/`params` as JSON text) and its labels (.jsonl:
account, label, kind). Files are written to a temporary name and renamed: never half-written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillab.atomic import atomic_path
from distillab.errors import ConfigError

from .generate import Traffic

JSON_TEXT = ("messages", "prompt", "params")
TEXT = pa.string()
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ts", pa.float64()),
        ("account", TEXT),
        ("key_id", TEXT),
        ("ip", TEXT),
        ("user_agent", TEXT),
        ("org", TEXT),
        ("payment_id", TEXT),
        ("endpoint", TEXT),
        ("model", TEXT),
        ("messages", TEXT),
        ("prompt", TEXT),
        ("params", TEXT),
        ("response", TEXT),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("status", pa.int32()),
        ("latency_ms", pa.float64()),
    ]
)
CHUNK = 20_000


def write_log(traffic: Traffic, path: Path) -> int:
    """Write the records to `path` (.jsonl or .parquet); returns how many."""
    path = Path(path)
    if path.suffix not in (".jsonl", ".parquet"):
        raise ConfigError(f"{path}: can write .jsonl or .parquet, not {path.suffix or 'no suffix'}")
    with atomic_path(path) as tmp:
        if path.suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for record in traffic.records:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
                for i in range(0, len(traffic.records), CHUNK):
                    rows = [_flat(r) for r in traffic.records[i : i + CHUNK]]
                    writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
    return len(traffic.records)


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    row = dict(record)
    for name in JSON_TEXT:
        if row[name] is not None:
            row[name] = json.dumps(row[name], ensure_ascii=False)
    return row


def write_labels(traffic: Traffic, path: Path) -> None:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in traffic.labels()), encoding="utf-8")
