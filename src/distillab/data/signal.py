"""Token-level signal in compact form: packed buffers in the journal, Arrow list columns in Parquet.

A top-20 answer of a few hundred tokens is thousands of floats. Written as JSON numbers they cost
~10x their size and dominate harvest CPU time; so the journal stores them as base64 of little-endian
numpy buffers (int32 ids, float32 sampled log-probabilities, float16 alternatives) and compaction turns
a batch of them into Arrow columns with a few vectorised concatenations instead of per-value Python.
The sampled signal (ids drawn from a local teacher, `distillab.models.draws`) is packed the same way:
int32 distinct ids, uint8 counts, float16 entropies.
"""

from __future__ import annotations

import base64
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

from distillab.teacher.base import Sample

Packed = dict[str, Any]
COLUMNS = (
    "tokens",
    "token_ids",
    "token_logprobs",
    "top_tokens",
    "top_ids",
    "top_logprobs",
    "draw_ids",
    "draw_counts",
    "entropy",
)


def _b64(values: Any, count: int, dtype: type) -> str:
    wide = np.float64 if dtype is np.float16 else np.int64 if dtype is np.uint8 else dtype
    array: np.ndarray = np.fromiter(values, dtype=wide, count=count)
    return base64.b64encode(array.astype(np.dtype(dtype).newbyteorder("<")).tobytes()).decode("ascii")


def _unb64(text: str, dtype: type) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<"))


def pack(sample: Sample) -> Packed | None:
    """The sample's signal as a JSON-ready dict of buffers; None in text mode."""
    if sample.token_logprobs is None:
        return None
    n = len(sample.token_logprobs)
    packed: Packed = {"lp": _b64(sample.token_logprobs, n, np.float32)}
    if sample.token_ids is not None:
        packed["ids"] = _b64(sample.token_ids, len(sample.token_ids), np.int32)
    else:
        packed["tokens"] = sample.tokens
    # A sampled harvest asks for no alternatives: null top-k columns, not a list of empty rows.
    no_top = sample.draw_ids is not None and not any(sample.top_logprobs or [])
    if sample.top_logprobs is not None and not no_top:
        lens = [len(row) for row in sample.top_logprobs]
        total = sum(lens)
        packed["top_len"] = _b64(lens, len(lens), np.int32)
        packed["top_lp"] = _b64(chain.from_iterable(sample.top_logprobs), total, np.float16)
        if sample.top_ids is not None:
            packed["top_ids"] = _b64(chain.from_iterable(sample.top_ids), total, np.int32)
        else:
            packed["top_tokens"] = sample.top_tokens
    if sample.draw_ids is not None and sample.draw_counts is not None and sample.entropy is not None:
        lens = [len(row) for row in sample.draw_ids]
        total = sum(lens)
        packed["draw_len"] = _b64(lens, len(lens), np.int32)
        packed["draw_ids"] = _b64(chain.from_iterable(sample.draw_ids), total, np.int32)
        packed["draw_n"] = _b64(chain.from_iterable(sample.draw_counts), total, np.uint8)
        packed["ent"] = _b64(sample.entropy, len(sample.entropy), np.float16)
    return packed


def _offsets(lengths: Any) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32), pa.int32())


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _list(parts: list[np.ndarray | None], value_type: pa.DataType, dtype: type) -> pa.Array:
    """list<value_type> from per-record numpy arrays (None: a null list)."""
    values = _concat([p for p in parts if p is not None], dtype)
    return pa.ListArray.from_arrays(
        _offsets([0 if p is None else len(p) for p in parts]),
        pa.array(values, type=value_type),
        mask=pa.array([p is None for p in parts], pa.bool_()),
    )


def _nested(
    parts: list[np.ndarray | None], row_lens: list[np.ndarray | None], value_type: pa.DataType, dtype: type
) -> pa.Array:
    """list<list<value_type>>: each record's flat values split into rows of `row_lens` (None: null)."""
    present = [(p, r) for p, r in zip(parts, row_lens) if p is not None and r is not None]
    rows = pa.ListArray.from_arrays(
        _offsets(_concat([r for _, r in present], np.int32)),
        pa.array(_concat([p for p, _ in present], dtype), type=value_type),
    )
    missing = [p is None or r is None for p, r in zip(parts, row_lens)]
    return pa.ListArray.from_arrays(
        _offsets([0 if m else len(r) for m, r in zip(missing, row_lens)]),  # type: ignore[arg-type]
        rows,
        mask=pa.array(missing, pa.bool_()),
    )


def columns(packed: list[Packed | None]) -> dict[str, pa.Array]:
    """Arrow columns (tokens, token_ids, token_logprobs, top_*, draw_*, entropy) for packed signals."""

    def get(key: str, dtype: type) -> list[np.ndarray | None]:
        return [None if p is None or key not in p else _unb64(p[key], dtype) for p in packed]

    top_len = get("top_len", np.int32)
    draw_len = get("draw_len", np.int32)
    return {
        "tokens": pa.array([None if p is None else p.get("tokens") for p in packed], pa.list_(pa.string())),
        "token_ids": _list(get("ids", np.int32), pa.int32(), np.int32),
        "token_logprobs": _list(get("lp", np.float32), pa.float32(), np.float32),
        "top_tokens": pa.array(
            [None if p is None else p.get("top_tokens") for p in packed], pa.list_(pa.list_(pa.string()))
        ),
        "top_ids": _nested(get("top_ids", np.int32), top_len, pa.int32(), np.int32),
        "top_logprobs": _nested(get("top_lp", np.float16), top_len, pa.float16(), np.float16),
        "draw_ids": _nested(get("draw_ids", np.int32), draw_len, pa.int32(), np.int32),
        "draw_counts": _nested(get("draw_n", np.uint8), draw_len, pa.uint8(), np.uint8),
        "entropy": _list(get("ent", np.float16), pa.float16(), np.float16),
    }
