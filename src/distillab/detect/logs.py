"""Read request logs in the DESIGN.md format, streaming: JSONL, Parquet, or a gateway store.

`read_log(source)` yields one dict per request, oldest file order first:

- a `.jsonl` file (nested `messages`/`params`, as `distillab logs export` and `distillab simulate` write);
- a `.parquet` file (nested columns, or JSON text columns as `distillab logs export` writes them);
- a gateway store: a `sqlite:///...` or `postgresql://...` URL, or a `.db` SQLite file.

Only `ts`, `account` and one of `messages`/`prompt` are required; unknown fields are kept and ignored.
`ts` may be epoch seconds or an RFC 3339 string. Bad rows raise `DataError` naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from distillab.errors import ConfigError, DataError
from distillab.jsonl import iter_jsonl

JSON_TEXT = ("messages", "prompt", "params")


def _ts(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise DataError(f"{where}: 'ts' must be epoch seconds or an RFC 3339 time, got {value!r}")


def _check(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object per request")
    if not isinstance(record.get("account"), str) or not record["account"]:
        raise DataError(f"{where}: 'account' must be a non-empty string")
    if record.get("messages") is None and record.get("prompt") is None:
        raise DataError(f"{where}: needs 'messages' or 'prompt'")
    record["ts"] = _ts(record.get("ts"), where)
    if not isinstance(record.get("params"), dict):
        record["params"] = {}
    return record


def _decode(record: dict[str, Any]) -> dict[str, Any]:
    for name in JSON_TEXT:
        value = record.get(name)
        if isinstance(value, str) and value[:1] in ("[", "{", '"'):
            try:
                record[name] = json.loads(value)
            except json.JSONDecodeError:
                pass
    return record


def read_log(source: str | Path) -> Iterator[dict[str, Any]]:
    """Every request in ``source`` (see the module docstring), validated, one at a time."""
    text = str(source)
    if "://" in text or text.endswith(".db"):
        yield from _store_rows(text)
        return
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"--log {path}: no such file (expected .jsonl, .parquet, a .db store or a database URL)")
    if path.suffix == ".jsonl":
        for where, record in iter_jsonl(path):
            yield _check(record, where)
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        row = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for record in batch.to_pylist():
                row += 1
                yield _check(_decode(record), f"{path}: row {row}")
    else:
        raise ConfigError(f"--log {path}: expected a .jsonl or .parquet file, a .db store or a database URL")


def _store_rows(url: str) -> Iterator[dict[str, Any]]:
    from distillab.gateway.store import Store

    with Store(url, create=False) as store:
        for n, record in enumerate(store.iter_logs(), start=1):
            if record.get("account"):  # unauthorised requests belong to no account
                yield _check(record, f"{store.url}: request {n}")
