"""A prompt set on disk: `OUT/prompts.jsonl` (rows `distillab generate` reads) and `OUT/manifest.json`.

Each row is ``{"id", "messages" | "prompt", "reference"?, "source"}``: `reference` is a reference answer where
one exists (a docstring), in the field `distillab eval --task FILE` reads; `source` says where the prompt
came from (a stdlib object, a teacher and its request, an input file and line). The manifest is removed
first and written last, each file atomically, so a directory with a manifest always holds a complete set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillab import __version__
from distillab.atomic import atomic_path
from distillab.data import manifest as mf
from distillab.data.prompts import parse_row
from distillab.errors import DataError
from distillab.jsonl import iter_jsonl
from distillab.teacher.base import PromptInput

PROMPTS_FILE = "prompts.jsonl"
FORMAT_VERSION = 1

Provenance = dict[str, str | int | list[str]]
"""Where one prompt came from, as written in its row's `source` (JSON values only)."""


@dataclass(frozen=True)
class PromptRecord:
    """One prompt of a set, with its reference answer (if any) and provenance."""

    id: str
    input: PromptInput
    source: Provenance = field(default_factory=dict)
    reference: str | None = None
    """A reference answer written by neither model (a docstring): eval's held-out loss reads it."""

    @property
    def text(self) -> str:
        """What the filters read: the user's words (every message's, if there is no user message)."""
        return prompt_text(self.input)

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id}
        row["prompt" if isinstance(self.input, str) else "messages"] = self.input
        if self.reference is not None:
            row["reference"] = self.reference
        row["source"] = self.source
        return row


def prompt_text(prompt: PromptInput) -> str:
    if isinstance(prompt, str):
        return prompt
    user = [m["content"] for m in prompt if m["role"] == "user"]
    return "\n".join(user or [m["content"] for m in prompt])


def user_prompt(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def read_prompt_set(path: Path) -> Iterator[PromptRecord]:
    """Rows of a prompts .jsonl file, keeping `reference` and `source` (a row without one gets its file and
    line as source). Malformed rows raise `DataError` naming file and line."""
    for where, row in iter_jsonl(path):
        parsed = parse_row(row, where)
        reference, source = row.get("reference"), row.get("source")
        if reference is not None and not isinstance(reference, str):
            raise DataError(f"{where}: 'reference' must be a string, got {type(reference).__name__}")
        if source is not None and not isinstance(source, dict):
            raise DataError(f"{where}: 'source' must be an object, got {type(source).__name__}")
        line = int(where.rsplit(":", 1)[1])
        yield PromptRecord(
            parsed.id or f"{path.stem}:{line}",
            parsed.input,
            source if source is not None else {"kind": "file", "file": str(path), "line": line},
            reference,
        )


def check_unique_ids(records: Sequence[PromptRecord]) -> None:
    seen: dict[str, PromptRecord] = {}
    for record in records:
        if record.id in seen:
            raise DataError(
                f"prompt id {record.id!r} appears twice (sources {seen[record.id].source} and "
                f"{record.source}); ids must be unique within a prompt set"
            )
        seen[record.id] = record


def base_manifest(command: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "distillab_version": __version__,
        "command": f"distillab prompts {command}",
        "created": mf.now_iso(),
    }


def write_prompt_set(out: Path, records: Sequence[PromptRecord], manifest: dict[str, Any]) -> Path:
    """Write `records` to `out/prompts.jsonl` and then `manifest` to `out/manifest.json`."""
    if not records:
        raise DataError(
            f"no prompts left to write to {out / PROMPTS_FILE} (counts: {json.dumps(manifest.get('counts'))})"
        )
    check_unique_ids(records)
    out.mkdir(parents=True, exist_ok=True)
    (out / mf.MANIFEST).unlink(missing_ok=True)
    path = out / PROMPTS_FILE
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record.to_row(), ensure_ascii=False) + "\n")
    mf.write_json_atomic(out / mf.MANIFEST, dict(manifest, finished=mf.now_iso()))
    return path
