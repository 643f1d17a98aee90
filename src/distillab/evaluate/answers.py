"""A model's answers to a task: a greedy harvest of the task's prompts, through the harvest machinery.

Answering is harvesting at temperature 0, so evaluation gets what `distillab generate` already does
for free: any model directory or OpenAI-compatible URL, concurrency, retries, and per-record resume (a
killed evaluation re-asks only what is missing). The answers live in ``OUT/answers/<role>/`` as an
ordinary harvest dataset, so they can be inspected, or trained on, like any other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from distillab.atomic import write_text
from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.manifest import remove_harvest
from distillab.data.records import read_records
from distillab.evaluate.tasks import Task

COLUMNS = [
    "prompt_id",
    "messages",
    "prompt",
    "completion",
    "finish_reason",
    "tokens",
    "token_ids",
    "top_tokens",
    "top_ids",
    "top_logprobs",
    "usage",
]


def write_prompts(task: Task, path: Path) -> Path:
    """The task's prompts as a JSONL prompt file, written atomically (same bytes on every run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in task.prompt_rows()))
    return path


def fingerprint(model: str) -> str:
    """Changes when the model does: a URL as given; a directory by its files' names, sizes and mtimes."""
    path = Path(model)
    if not path.is_dir():
        return model
    stamp = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(path.iterdir()) if f.is_file()]
    return hashlib.sha256(json.dumps([str(path.resolve()), stamp]).encode()).hexdigest()


def answer(
    model: str,
    task: Task,
    out: Path,
    *,
    max_tokens: int,
    top_logprobs: int = 0,
    concurrency: int = 8,
    api_key_env: str = "OPENAI_API_KEY",
    progress: bool = True,
    console: Console | None = None,
) -> dict[str, dict[str, Any]]:
    """Greedy answers of ``model`` to every task item, keyed by item id.

    ``top_logprobs`` > 0 also keeps the model's top-k log-probabilities per token (used for the
    teacher, whose outputs the student is scored against).
    """
    prompts = write_prompts(task, out.parent / f"{out.name}.prompts.jsonl")
    # Stored answers are resumed only for the very same model: a retrained model in the same directory
    # (same name, so the same harvest identity) must answer afresh.
    stamp_file = out.parent / f"{out.name}.model"
    stamp = fingerprint(model)
    if out.exists() and (not stamp_file.is_file() or stamp_file.read_text() != stamp):
        remove_harvest(out)
    stamp_file.write_text(stamp)
    config = HarvestConfig(
        teacher=model,
        prompts=prompts,
        out=out,
        n=1,
        temperature=0.0,
        max_tokens=max_tokens,
        top_logprobs=top_logprobs,
        seed=0,
        concurrency=concurrency,
        api_key_env=api_key_env,
        terms="evaluation answers (distillab eval)",
        overwrite=True,
        progress=progress,
    )
    run_harvest(config, console=console)
    wanted = {item.id for item in task.items}
    rows = read_records(out, columns=COLUMNS).to_pylist()
    return {row["prompt_id"]: row for row in rows if row["prompt_id"] in wanted}
