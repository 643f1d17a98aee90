"""Harvest records: one per prompt x sample, with a stable id and compact token-level signal.

The on-disk schema (Parquet, zstd) is documented in docs/data-formats.md; bump `FORMAT_VERSION` on any
incompatible change. Top-k log-probabilities are stored as float16 (about 3 significant digits, plenty
for distillation targets) with int32 token ids, so top-20 costs well under 150 bytes per token instead
of the ~1 KB a JSON encoding takes. Token strings are stored only when the teacher did not give ids.
A sampled harvest (`--draws`) stores ids drawn from the teacher's distribution instead of its top-k:
distinct ids (int32) with their counts (uint8) and the position's entropy (float16).

The draw columns came after format 1's first files; they are nullable, and files without them read as
if they were null (`conform`), so the format stays 1.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillab.data import signal
from distillab.data.prompts import PromptRow
from distillab.teacher.base import Generation, PromptInput

FORMAT_VERSION = 1

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
PARAMS = pa.struct(
    [
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("max_tokens", pa.int32()),
        ("stop", pa.list_(pa.string())),
        ("seed", pa.int64()),
        ("logprobs", pa.bool_()),
        ("top_logprobs", pa.int32()),
    ]
)
USAGE = pa.struct(
    [("prompt_tokens", pa.int32()), ("completion_tokens", pa.int32()), ("request_samples", pa.int32())]
)
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("prompt_id", pa.string()),
        ("sample_index", pa.int32()),
        ("messages", pa.list_(MESSAGE)),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("finish_reason", pa.string()),
        ("tokens", pa.list_(pa.string())),
        ("token_ids", pa.list_(pa.int32())),
        ("token_logprobs", pa.list_(pa.float32())),
        ("top_tokens", pa.list_(pa.list_(pa.string()))),
        ("top_ids", pa.list_(pa.list_(pa.int32()))),
        ("top_logprobs", pa.list_(pa.list_(pa.float16()))),
        ("draw_ids", pa.list_(pa.list_(pa.int32()))),
        ("draw_counts", pa.list_(pa.list_(pa.uint8()))),
        ("entropy", pa.list_(pa.float16())),
        ("usage", USAGE),
        ("teacher", pa.string()),
        ("params", PARAMS),
        ("created", pa.timestamp("ms", tz="UTC")),
    ]
)


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_id(teacher: str, prompt: PromptInput, params: dict[str, Any], sample_index: int) -> str:
    """Stable id: the same teacher, input, sampling params and sample index always give the same id.

    This is what makes resume exact: a rerun recomputes the ids and skips those already stored.
    """
    return _digest({"teacher": teacher, "input": prompt, "params": params, "sample": sample_index})[:32]


def row_input(row: PromptRow) -> Any:
    """What identifies a row's records: its input, and its given completion when it has one (scoring)."""
    return row.input if row.completion is None else {"input": row.input, "completion": row.completion}


def prompt_key(row: PromptRow) -> str:
    """The user's prompt id when given, else a hash of the input: groups the samples of one prompt."""
    return row.id if row.id is not None else "sha256:" + _digest(row.input)[:16]


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def build_records(
    row: PromptRow, teacher: str, params: dict[str, Any], indices: list[int], generation: Generation
) -> list[dict[str, Any]]:
    """Journal records for the samples of one answer; sample `j` gets sample index `indices[j]`.

    They carry the schema's plain fields plus `signal`, the token-level arrays packed (see `signal`);
    `to_table` unpacks them into the Parquet columns.

    `usage.prompt_tokens` is the request's prompt count and `request_samples` how many samples shared
    it, so billed prompt tokens are exactly `sum(prompt_tokens / request_samples)` over records.
    """
    samples = generation.samples[: len(indices)]
    created = datetime.now(UTC).isoformat(timespec="milliseconds")
    counted = [len(s.token_ids or s.tokens) for s in samples]
    if not all(counted) or sum(counted) != generation.completion_tokens:
        counted = _split(generation.completion_tokens, len(samples)) if samples else []
    records = []
    for sample, index, completion_tokens in zip(samples, indices, counted):
        chat = not isinstance(row.input, str)
        records.append(
            {
                "id": record_id(teacher, row_input(row), params, index),
                "prompt_id": prompt_key(row),
                "sample_index": index,
                "messages": row.input if chat else None,
                "prompt": None if chat else row.input,
                "completion": sample.text,
                "finish_reason": sample.finish_reason,
                "signal": signal.pack(sample),
                "usage": {
                    "prompt_tokens": generation.prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "request_samples": len(samples),
                },
                "teacher": teacher,
                "params": params,
                "created": created,
            }
        )
    return records


PLAIN = [name for name in SCHEMA.names if name not in signal.COLUMNS]


def to_table(records: list[dict[str, Any]]) -> pa.Table:
    """Records as journaled (signal packed) to an Arrow table with the on-disk schema."""
    cols: dict[str, pa.Array] = signal.columns([r["signal"] for r in records])
    for name in PLAIN:
        values = [r[name] for r in records]
        if name == "created":
            values = [datetime.fromisoformat(v) for v in values]
        cols[name] = pa.array(values, SCHEMA.field(name).type)
    return pa.Table.from_arrays([cols[name] for name in SCHEMA.names], schema=SCHEMA)


def conform(table: pa.Table) -> pa.Table:
    """A table read from a record file, with the columns it predates added as nulls, cast to SCHEMA."""
    for name in SCHEMA.names:
        if name not in table.column_names:
            table = table.append_column(SCHEMA.field(name), pa.nulls(table.num_rows, SCHEMA.field(name).type))
    return table.select(SCHEMA.names).cast(SCHEMA)


def data_files(out: str | Path) -> list[Path]:
    return sorted((Path(out) / "data").glob("*.parquet"))


def read_records(out: str | Path, columns: list[str] | None = None) -> pa.Table:
    """All records of a harvest directory (`OUT/data/*.parquet`) as one Arrow table.

    Equivalent to `datasets.load_dataset("parquet", data_dir=OUT/"data")`, without the datasets cache.
    Records still only in the journal of an unfinished harvest are not included; rerun to finish it.
    """
    files = data_files(out)
    if not files:
        return SCHEMA.empty_table() if columns is None else SCHEMA.empty_table().select(columns)
    return pa.concat_tables([pq.read_table(f, columns=columns, schema=SCHEMA) for f in files])
