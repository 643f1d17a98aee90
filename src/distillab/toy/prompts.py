"""Prompt files for the tiny world's tasks, in the chat shape `distillab generate` reads.

One row per prompt, the same fields whatever the file type:

- `id`: stable id of the problem or passage;
- `messages`: `[{"role": "user", "content": PROMPT}]`, the request a client would send;
- arith rows: `answer`, the final answer as a string ("14"), checkable with `arith.is_correct`;
- text rows: `reference`, the true continuation of the paragraph (for comparison, not a unique answer).

`.jsonl` and `.parquet` keep `messages` as a list; `.csv` has no nested values, so it carries the user
message in a `prompt` column instead of `messages`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from distillab.errors import ConfigError
from distillab.toy import arith, text
from distillab.toy.arith import Split

FORMATS = (".jsonl", ".csv", ".parquet")


def prompt_rows(task: str, split: Split, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` prompt rows of `task` ("arith" or "text") from `split`, deterministic for a seed."""
    if task == "arith":
        return [
            {"id": p.id, "messages": [{"role": "user", "content": p.prompt}], "answer": p.final}
            for p in arith.problems(split, n, seed)
        ]
    if task == "text":
        return [
            {"id": p.id, "messages": [{"role": "user", "content": p.prompt}], "reference": p.continuation}
            for p in text.passages(split, n, seed)
        ]
    raise ConfigError(f"task: expected 'arith' or 'text', got {task!r}")


def write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write rows as JSONL, CSV or Parquet, chosen by the file extension."""
    if path.suffix not in FORMATS:
        raise ConfigError(f"--out {path}: unknown extension {path.suffix!r}; use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    elif path.suffix == ".csv":
        flat = [
            {
                "prompt" if k == "messages" else k: v[0]["content"] if k == "messages" else v
                for k, v in row.items()
            }
            for row in rows
        ]
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(flat[0]) if flat else ["id", "prompt"])
            writer.writeheader()
            writer.writerows(flat)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path
