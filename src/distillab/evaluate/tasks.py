"""Evaluation tasks: prompts with checkable answers, built in or read from a user's JSONL file.

Built-in tasks come from the tiny world (``arith``: held-out test-split word problems, checked
numerically; ``text``: held-out stdlib docstring continuations, no single right answer, so only the
student-vs-teacher numbers apply). A user task is a JSONL file, one item per line::

    {"id": "q1", "messages": [{"role": "user", "content": "What is 2 + 3?"}], "answer": "5"}
    {"prompt": "The capital of France is", "answer": "Paris"}

``id`` is optional (the line number is used); ``answer`` is required and is checked by the task's
checker (``--checker``, see ``verifiers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillab.data.prompts import parse_row
from distillab.errors import ConfigError, DataError
from distillab.evaluate.verifiers import Checker, check_regex, load_checker
from distillab.jsonl import iter_jsonl
from distillab.teacher.base import PromptInput

BUILTIN_TASKS = {"arith": "numeric", "text": None}
"""Built-in task names and their checker (None: open-ended, no accuracy)."""


@dataclass(frozen=True)
class Item:
    id: str
    input: PromptInput
    """A chat (list of {role, content}) or a raw prompt string."""
    answer: str | None


@dataclass(frozen=True)
class Task:
    name: str
    items: list[Item]
    checker: Checker | None
    """None for open-ended tasks: no accuracy, only agreement with the teacher."""

    def prompt_rows(self) -> list[dict[str, Any]]:
        """The items as prompt-file rows (what `distillab generate` reads)."""
        return [
            {
                "id": item.id,
                **({"prompt": item.input} if isinstance(item.input, str) else {"messages": item.input}),
            }
            for item in self.items
        ]


def load_task(name_or_file: str, *, n: int, seed: int = 0, checker: str | None = None) -> Task:
    """The first ``n`` items of a built-in task or of a JSONL task file."""
    if name_or_file in BUILTIN_TASKS:
        from distillab.toy.prompts import prompt_rows  # the tiny world: imported only when asked for

        rows = prompt_rows(name_or_file, "test", n, seed=seed)
        items = [Item(r["id"], r["messages"], r.get("answer")) for r in rows]
        default = BUILTIN_TASKS[name_or_file]
        chosen = checker or default
        return Task(name_or_file, items, load_checker(chosen) if chosen else None)
    path = Path(name_or_file)
    if not path.is_file():
        raise ConfigError(
            f"task: {name_or_file!r} is neither a built-in task ({', '.join(BUILTIN_TASKS)}) "
            "nor an existing .jsonl file"
        )
    if path.suffix.lower() != ".jsonl":
        raise ConfigError(f"task: {path} must be a .jsonl file (one item with 'answer' per line)")
    chosen = checker or "exact"
    items = _read_items(path, n, regex=chosen == "regex")
    return Task(path.stem, items, load_checker(chosen))


def _read_items(path: Path, n: int, *, regex: bool) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for where, row in iter_jsonl(path):
        if len(items) >= n:
            break
        parsed = parse_row(row, where)
        answer = row.get("answer")
        if not isinstance(answer, (str, int, float)) or isinstance(answer, bool) or str(answer) == "":
            raise DataError(f"{where}: 'answer' must be a non-empty string or number")
        if regex:
            check_regex(str(answer), where)
        item_id = str(row.get("id", f"line-{where.rsplit(':', 1)[1]}"))
        if item_id in seen:
            raise DataError(f"{where}: id {item_id!r} appears twice")
        seen.add(item_id)
        items.append(Item(item_id, parsed.input, str(answer)))
    if not items:
        raise DataError(f"{path}: no items")
    return items
