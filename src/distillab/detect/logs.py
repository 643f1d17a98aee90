"""Read request logs in the DESIGN.md format as column batches: JSONL, Parquet, or a gateway store.

`read_batches(source)` yields `Columns`: one batch of requests reduced to what detection reads (time,
account, the newest turn's text, whether it carries a conversation, chain-of-thought and
distribution requests, completion tokens, network and account metadata). Sources:

- a `.parquet` file: read in record batches with pyarrow; JSON-text `messages`/`prompt`/`params` columns
  (as `distillab logs export` and `distillab simulate` write them) are handled by vectorised string
  kernels, with a per-row JSON fallback for shapes they do not cover; nested columns work too;
- a `.jsonl` file (nested `messages`/`params`);
- a gateway store: a `sqlite:///...` or `postgresql://...` URL, or a `.db` SQLite file.

`record.request_fields(record)` reduces one record (a dict) the same way: the live, one-request-at-a-time
path.

Only `ts`, `account` and one of `messages`/`prompt` are required; unknown fields are kept and ignored.
`ts` may be epoch seconds or an RFC 3339 string. Bad rows raise `DataError` naming the file and row.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillab.errors import ConfigError, DataError
from distillab.jsonl import iter_jsonl

from .record import (
    asks_distribution,
    check,
    ip_prefix,
    messages_fields,
    prompt_text,
    request_fields,
    style_of_params,
    style_of_params_text,
    to_epoch,
)
from .text import COT, mix64

BATCH = 65_536
COLUMNS = (
    "ts",
    "account",
    "ip",
    "user_agent",
    "org",
    "payment_id",
    "messages",
    "prompt",
    "params",
    "completion_tokens",
    "status",
)


@dataclass
class Columns:
    """One batch of requests, reduced to what detection reads (all arrays have one row per request)."""

    ts: np.ndarray
    account: pa.Array
    text: pa.Array
    """The newest turn's text (the last message, or the completion prompt)."""
    conversational: np.ndarray
    """The request carries earlier assistant turns."""
    cot: np.ndarray
    """The text or the system prompt asks for step-by-step reasoning."""
    distribution: np.ndarray
    """Asks for log-probabilities or several samples (n > 1)."""
    completion_tokens: np.ndarray
    """NaN where unknown or the request failed."""
    prefix: pa.Array
    user_agent: pa.Array
    org: pa.Array
    payment_id: pa.Array
    style: np.ndarray
    """A hash of how the request is made: its sampling parameters (`record.STYLE_PARAMS`), its system prompt
    and whether it is a chat or a completions request (behavioural linking compares their mix)."""

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, start: int, stop: int) -> Columns:
        """Rows `start` to `stop` (a view)."""
        cut = {}
        for name, value in vars(self).items():
            cut[name] = value.slice(start, stop - start) if isinstance(value, pa.Array) else value[start:stop]
        return Columns(**cut)


# ---- one record -----------------------------------------------------------------------------------
def style_hash(params_style: np.ndarray, system: pa.Array, completion: np.ndarray) -> np.ndarray:
    """`Columns.style` from the parameters' hashes, the system prompts (null: none) and whether each
    request is a completions request."""
    system_hash = np.asarray(
        pc.fill_null(_per_unique(system, lambda v: zlib.crc32(v.encode()) if v else 0, pa.int64()), 0),
        np.uint64,
    )
    parts = params_style.astype(np.uint64) ^ (system_hash << np.uint64(32)) ^ completion.astype(np.uint64)
    return mix64(parts)


def from_records(records: list[dict[str, Any]]) -> Columns:
    rows = [request_fields(r, cot=False) for r in records]

    def strings(name: str) -> pa.Array:
        return pa.array([r[name] for r in rows], pa.string())

    def flags(name: str) -> np.ndarray:
        return np.fromiter((r[name] for r in rows), bool, len(rows))

    text = strings("text")
    return Columns(
        np.fromiter((r["ts"] for r in rows), np.float64, len(rows)),
        strings("account"),
        text,
        flags("conversational"),
        _cot(text, strings("system")),
        flags("distribution"),
        np.fromiter((r["completion_tokens"] for r in rows), np.float64, len(rows)),
        strings("prefix"),
        strings("user_agent"),
        strings("org"),
        strings("payment_id"),
        style_hash(
            np.fromiter((r["params_style"] for r in rows), np.int64, len(rows)),
            pa.array([r["system"] or None for r in rows], pa.string()),
            flags("completion"),
        ),
    )


def _cot(text: pa.Array, system: pa.Array) -> np.ndarray:
    """Whether each text or system prompt asks for step-by-step reasoning (`COT`, as RE2 reads it)."""

    def hits(values: pa.Array) -> np.ndarray:
        return np.asarray(
            pc.fill_null(pc.match_substring_regex(values, COT.pattern, ignore_case=True), False)
        )

    return hits(text) | hits(system)


# ---- a batch of Arrow rows ------------------------------------------------------------------------
def _unescape(text: pa.Array) -> pa.Array:
    """JSON-escaped newlines to spaces, so that tokens split where the plain text's would; the other
    escapes are dropped token by token (`text.ESCAPE`)."""
    return pc.replace_substring(text, "\\n", " ")


def _json_messages(messages: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """From JSON-text messages: (newest turn's text, conversational, system asks for reasoning, rows the
    string kernels could not read, the system prompt or null)."""
    # The newest turn is the last '"content": "' piece when the message list ends with it; other shapes
    # (compact separators, keys in another order, content parts) go to the per-row JSON fallback.
    pieces = pc.split_pattern(messages, '"content": "', max_splits=1, reverse=True)
    offsets = np.asarray(pieces.offsets)
    if not len(pieces.values):
        return (
            pa.nulls(len(messages), pa.string()),
            np.zeros(len(messages), bool),
            np.zeros(len(messages), bool),
            np.ones(len(messages), bool),
            pa.nulls(len(messages), pa.string()),
        )
    last = pc.take(pieces.values, pa.array(np.maximum(offsets[1:] - 1, 0)))
    good = np.diff(offsets) > 1
    good &= np.asarray(pc.fill_null(pc.ends_with(last, '"}]'), False))
    text = pc.utf8_slice_codeunits(last, 0, -3)
    bad = ~good
    conversational = np.asarray(
        pc.fill_null(pc.match_substring_regex(messages, r'"role"\s*:\s*"assistant"'), False)
    )
    system_rows = np.flatnonzero(
        np.asarray(
            pc.fill_null(pc.match_substring_regex(messages, r'^\[\s*\{\s*"role"\s*:\s*"system"'), False)
        )
    )
    cot_system = np.zeros(len(messages), bool)
    system = pa.nulls(len(messages), pa.string())
    if system_rows.size:
        first = pc.extract_regex(
            pc.take(messages, pa.array(system_rows)), r'"content"\s*:\s*"(?P<c>(?:[^"\\]|\\.)*)"'
        )
        content = pc.struct_field(first, "c")
        hits = pc.match_substring_regex(content, COT.pattern, ignore_case=True)
        cot_system[system_rows] = np.asarray(pc.fill_null(hits, False))
        plain = pa.concat_arrays([_per_unique(content, _json_string, pa.string()), pa.nulls(1, pa.string())])
        where = np.full(len(messages), len(content))
        where[system_rows] = np.arange(len(system_rows))
        system = pc.take(plain, pa.array(where))
    return _unescape(text), conversational, cot_system, bad, system


def _json_string(escaped: str | None) -> str | None:
    """The text of a JSON string's inside (escapes read)."""
    try:
        return str(json.loads(f'"{escaped}"')) if escaped is not None else None
    except json.JSONDecodeError:
        return escaped


def _string_column(batch: pa.RecordBatch, name: str) -> pa.Array:
    if name not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    column = batch.column(name)
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _per_unique(values: pa.Array, function: Any, out_type: pa.DataType) -> pa.Array:
    """`function` applied once per distinct value (a dictionary-encoded column)."""
    encoded = values.dictionary_encode()
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], out_type)
    return pc.take(mapped, encoded.indices)


def _params_distribution(text: str | None) -> bool:
    try:
        return asks_distribution(json.loads(text)) if text else False
    except json.JSONDecodeError:
        return False


def from_arrow(batch: pa.RecordBatch, *, where: str, first_row: int) -> Columns:
    """`Columns` from Arrow rows with the log's column names (JSON-text or nested columns)."""
    n = batch.num_rows
    account = _string_column(batch, "account")
    missing = pc.or_(pc.is_null(account), pc.equal(pc.fill_null(account, ""), ""))
    if pc.any(missing).as_py():
        row = first_row + int(np.flatnonzero(np.asarray(pc.fill_null(missing, True)))[0]) + 1
        raise DataError(f"{where}: row {row}: 'account' must be a non-empty string")
    ts_column = batch.column("ts") if "ts" in batch.schema.names else pa.nulls(n)
    if pa.types.is_integer(ts_column.type) or pa.types.is_floating(ts_column.type):
        if ts_column.null_count:
            row = first_row + int(np.flatnonzero(np.asarray(pc.is_null(ts_column)))[0]) + 1
            raise DataError(f"{where}: row {row}: 'ts' must be epoch seconds or an RFC 3339 time, got None")
        ts = np.asarray(ts_column.cast(pa.float64()))
    else:
        ts = np.array(
            [to_epoch(v, f"{where}: row {first_row + i + 1}") for i, v in enumerate(ts_column.to_pylist())]
        )

    messages = batch.column("messages") if "messages" in batch.schema.names else pa.nulls(n, pa.string())
    prompt = batch.column("prompt") if "prompt" in batch.schema.names else pa.nulls(n, pa.string())
    both_missing = pc.and_(pc.is_null(messages), pc.is_null(prompt))
    if pc.any(both_missing).as_py():
        row = first_row + int(np.flatnonzero(np.asarray(both_missing))[0]) + 1
        raise DataError(f"{where}: row {row}: needs 'messages' or 'prompt'")
    fallback = np.zeros(n, bool)
    if pa.types.is_string(messages.type) or pa.types.is_null(messages.type):
        messages = messages.cast(pa.string())
        text, conversational, cot_system, bad, system = _json_messages(messages)
        fallback |= bad & np.asarray(pc.is_valid(messages))
    else:  # nested list<struct>: read per row
        text, conversational, cot_system = pa.nulls(n, pa.string()), np.zeros(n, bool), np.zeros(n, bool)
        system = pa.nulls(n, pa.string())
        fallback |= np.asarray(pc.is_valid(messages))
    use_prompt = np.asarray(pc.is_null(messages))
    if use_prompt.any():
        prompt_text = (
            prompt.cast(pa.string()) if not pa.types.is_list(prompt.type) else pa.nulls(n, pa.string())
        )
        quoted = pc.fill_null(pc.starts_with(prompt_text, '"'), False)
        plain = pc.if_else(quoted, _unescape(pc.utf8_slice_codeunits(prompt_text, 1, -1)), prompt_text)
        fallback |= use_prompt & ~np.asarray(pc.fill_null(pc.is_valid(prompt_text), False))
        text = pc.if_else(pa.array(use_prompt), plain, text)
    if fallback.any():
        text, conversational, cot_system, system = _fallback(
            batch, fallback, text, conversational, cot_system, system
        )
    text = pc.fill_null(text, "")
    cot = np.asarray(pc.match_substring_regex(text, COT.pattern, ignore_case=True)) | cot_system

    params = batch.column("params") if "params" in batch.schema.names else pa.nulls(n, pa.string())
    if pa.types.is_string(params.type) or pa.types.is_null(params.type):
        distribution = np.asarray(
            pc.fill_null(_per_unique(params.cast(pa.string()), _params_distribution, pa.bool_()), False)
        )
        params_style = np.asarray(
            pc.fill_null(_per_unique(params.cast(pa.string()), style_of_params_text, pa.int64()), 0)
        )
    else:
        values = params.to_pylist()
        distribution = np.array([asks_distribution(p) for p in values], bool)
        params_style = np.array([style_of_params(p) for p in values], np.int64)
    tokens = (
        np.asarray(pc.fill_null(batch.column("completion_tokens").cast(pa.float64()), np.nan))
        if "completion_tokens" in batch.schema.names
        else np.full(n, np.nan)
    )
    if "status" in batch.schema.names:
        status = np.asarray(pc.fill_null(batch.column("status").cast(pa.int64()), 200))
        tokens = np.where((status >= 200) & (status < 300), tokens, np.nan)
    prefix = _per_unique(_string_column(batch, "ip"), ip_prefix, pa.string())
    return Columns(
        ts,
        account,
        text,
        conversational,
        cot,
        distribution,
        tokens,
        prefix,
        _string_column(batch, "user_agent"),
        _string_column(batch, "org"),
        _string_column(batch, "payment_id"),
        style_hash(params_style, system, use_prompt),
    )


def _fallback(
    batch: pa.RecordBatch,
    rows: np.ndarray,
    text: pa.Array,
    conversational: np.ndarray,
    cot_system: np.ndarray,
    system: pa.Array,
) -> tuple[pa.Array, np.ndarray, np.ndarray, pa.Array]:
    """Rows the string kernels could not read, decoded as JSON one by one."""
    texts = text.to_pylist()
    systems = system.to_pylist()
    messages = batch.column("messages") if "messages" in batch.schema.names else None
    prompts = batch.column("prompt") if "prompt" in batch.schema.names else None
    for i in np.flatnonzero(rows):
        value = messages[i].as_py() if messages is not None else None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        if isinstance(value, list) and value:
            texts[i], conversational[i], found = messages_fields(value)
            cot_system[i] = bool(found and COT.search(found))
            systems[i] = found or None
            continue
        prompt = prompts[i].as_py() if prompts is not None else None
        if isinstance(prompt, str) and prompt[:1] in ('"', "["):
            try:
                prompt = json.loads(prompt)
            except json.JSONDecodeError:
                pass
        texts[i] = prompt_text(prompt)
    return pa.array(texts, pa.string()), conversational, cot_system, pa.array(systems, pa.string())


# ---- sources --------------------------------------------------------------------------------------
def read_batches(source: str | Path, *, batch_size: int = BATCH) -> Iterator[Columns]:
    """Every request in ``source`` (see the module docstring), validated, a batch at a time."""
    text = str(source)
    if "://" in text or text.endswith(".db"):
        yield from _record_batches(_store_rows(text), batch_size)
        return
    path = Path(text)
    if not path.is_file():
        raise ConfigError(
            f"--log {path}: no such file (expected .jsonl, .parquet, a .db store or a database URL)"
        )
    if path.suffix == ".jsonl":
        yield from _record_batches((check(record, where) for where, record in iter_jsonl(path)), batch_size)
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        file = pq.ParquetFile(path)
        names = [c for c in COLUMNS if c in file.schema_arrow.names]
        row = 0
        for batch in file.iter_batches(batch_size=batch_size, columns=names):
            yield from_arrow(batch, where=str(path), first_row=row)
            row += batch.num_rows
    else:
        raise ConfigError(f"--log {path}: expected a .jsonl or .parquet file, a .db store or a database URL")


def _record_batches(records: Iterator[dict[str, Any]], size: int) -> Iterator[Columns]:
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield from_records(chunk)
            chunk = []
    if chunk:
        yield from_records(chunk)


def _store_rows(url: str) -> Iterator[dict[str, Any]]:
    from distillab.db.store import Store

    with Store(url, create=False) as store:
        for n, record in enumerate(store.iter_logs(), start=1):
            if record.get("account"):  # unauthorised requests belong to no account
                yield check(record, f"{store.url}: request {n}")
