"""Prompt files: JSONL, CSV or Parquet, chosen by extension.

Each row holds `messages` (a list of {role, content}; in CSV a JSON string) or `prompt` (a string), and
optionally an `id` that is kept in the harvest records, and, for `distillab score`, the `completion` whose
log-probabilities the teacher is asked for. Every malformed row is reported with its file
and position (1-based line for JSONL and CSV, counting the CSV header as line 1; 0-based row index for
Parquet) *before* anything is sent to a teacher, so a typo on line 90 000 does not cost a harvest.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillab.errors import DataError
from distillab.jsonl import iter_jsonl
from distillab.teacher.base import PromptInput

SUFFIXES = (".jsonl", ".csv", ".parquet")
ROLES = frozenset({"system", "user", "assistant", "developer", "tool"})


@dataclass(frozen=True)
class PromptRow:
    """One prompt. `input` is a message list (chat) or a string (raw completion prompt)."""

    input: PromptInput
    id: str | None
    where: str
    """`file:line` (or `file:row N`) for messages that point the user at this prompt."""
    completion: str | None = None
    """A given answer (`distillab score` asks the teacher for its log-probabilities); None for prompts."""


def file_sha256(path: Path) -> str:
    """Hash of the file's bytes: the manifest records which prompt set a harvest came from."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _parse_messages(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise DataError(f"{where}: messages[{i}] is not an object")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise DataError(f"{where}: messages[{i}].role is {role!r}; expected one of {sorted(ROLES)}")
        if not isinstance(content, str):
            raise DataError(f"{where}: messages[{i}].content must be a string, got {type(content).__name__}")
        messages.append({"role": role, "content": content})
    return messages


def parse_row(row: Any, where: str, messages_as_json: bool = False) -> PromptRow:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected an object with 'messages' or 'prompt', got {type(row).__name__}")
    messages, prompt = row.get("messages"), row.get("prompt")
    has_messages = messages not in (None, "")
    has_prompt = prompt not in (None, "")
    if has_messages == has_prompt:
        raise DataError(
            f"{where}: needs exactly one of 'messages' or 'prompt'"
            + (" (found both)" if has_messages else " (found neither)")
        )
    raw_id = row.get("id")
    row_id = None if raw_id in (None, "") else str(raw_id)
    completion = row.get("completion")
    if completion is not None and not isinstance(completion, str):
        raise DataError(f"{where}: 'completion' must be a string, got {type(completion).__name__}")
    if has_prompt:
        if not isinstance(prompt, str):
            raise DataError(f"{where}: 'prompt' must be a string, got {type(prompt).__name__}")
        return PromptRow(prompt, row_id, where, completion)
    if messages_as_json and isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: 'messages' is not valid JSON ({exc})") from exc
    return PromptRow(_parse_messages(messages, where), row_id, where, completion)


def _jsonl_rows(path: Path) -> Iterator[PromptRow]:
    for where, row in iter_jsonl(path):
        yield parse_row(row, where)


def _csv_rows(path: Path) -> Iterator[PromptRow]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"messages", "prompt"} & set(reader.fieldnames):
            raise DataError(f"{path}:1: the CSV header needs a 'messages' or 'prompt' column")
        while True:
            # A quoted field may span lines: report the line where the record starts.
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(f"{path}:{start}: malformed CSV ({exc})") from exc
            if None in row:
                raise DataError(f"{path}:{start}: more fields than the header has columns")
            yield parse_row(row, f"{path}:{start}", messages_as_json=True)


def _parquet_rows(path: Path) -> Iterator[PromptRow]:
    import pyarrow.parquet as pq  # imported here: plain JSONL prompt files never need pyarrow

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
    if not {"messages", "prompt"} & set(table.column_names):
        raise DataError(f"{path}: needs a 'messages' or 'prompt' column; has {table.column_names}")
    for index, row in enumerate(table.to_pylist()):
        yield parse_row(row, f"{path}:row {index}", messages_as_json=isinstance(row.get("messages"), str))


def read_prompts(path: str | Path) -> list[PromptRow]:
    """All prompts in `path`, validated. Raises `DataError` naming the file and row of the first problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported prompt file type {suffix!r}; use one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise DataError(f"{path}: prompt file not found")
    reader = {".jsonl": _jsonl_rows, ".csv": _csv_rows, ".parquet": _parquet_rows}[suffix]
    try:
        rows = list(reader(path))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
    if not rows:
        raise DataError(f"{path}: contains no prompts")
    return rows
