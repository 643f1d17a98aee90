"""Export the gateway's request log to a file `distillab detect` and `datasets.load_dataset` can read.

- `.jsonl`: one record per line, exactly as `Store.iter_logs` yields it: `messages`, `prompt` and
  `params` are nested JSON (a list of {role, content}, a string or list, an object).
- `.parquet` (zstd): one flat schema, `db.schema.log_parquet_schema()`. `messages`, `prompt` and
  `params` are JSON text columns (decode with `json.loads`): their shapes vary per request (a prompt
  is a string or a list, params carry different keys and types), which no single Arrow type holds
  without losing something.

Both load with `datasets.load_dataset("json" | "parquet", data_files=FILE)`. The file is written to a
temporary name, fsynced and renamed, so a reader sees the old file or the complete new one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from distillab.atomic import atomic_path
from distillab.db.schema import JSON_FIELDS, log_parquet_schema
from distillab.db.store import Store
from distillab.errors import ConfigError

SUFFIXES = (".jsonl", ".parquet")
BATCH = 1000


def export_logs(store: Store, out: Path, *, account: str | None = None, since: float | None = None) -> int:
    """Write the request log (optionally one account's, or since an epoch time) to `out`; returns rows."""
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise ConfigError(
            f"{out}: can export to {' or '.join(SUFFIXES)} files, not {out.suffix or 'no suffix'}"
        )
    if not out.parent.is_dir():
        raise ConfigError(f"{out}: directory {out.parent} does not exist")
    records = store.iter_logs(account=account, since=since, batch=BATCH)
    with atomic_path(out) as tmp:
        count = _write_jsonl(records, tmp) if out.suffix == ".jsonl" else _write_parquet(records, tmp)
    return count


def _write_jsonl(records: Iterator[dict[str, Any]], path: Path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _write_parquet(records: Iterator[dict[str, Any]], path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = log_parquet_schema()
    count = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        while chunk := list(islice(records, BATCH)):
            for record in chunk:
                for name in JSON_FIELDS:
                    if record[name] is not None:
                        record[name] = json.dumps(record[name], ensure_ascii=False)
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
            count += len(chunk)
    return count
