"""Evaluation tasks: prompts with checkable answers, built in or read from a user's JSONL file.

Built-in tasks come from the tiny world (``arith``: held-out test-split word problems, checked
numerically; ``text``: held-out stdlib docstring continuations, no single right answer, so only the
student-vs-teacher numbers apply). A user task is a JSONL file, one item per line::

    {"id": "q1", "messages": [{"role": "user", "content": "What is 2 + 3?"}], "answer": "5"}
    {"prompt": "The capital of France is", "answer": "Paris"}

``id`` is optional (the line number is used). ``answer`` is checked by the task's checker (``--checker``,
see ``verifiers``). A row may carry a ``reference`` instead of (or beside) an answer: a good answer written
by neither model (``distillab prompts stdlib`` keeps the docstring), on which every local model's held-out
loss is measured (``distillab.evaluate.reference``). A file whose rows have references but no answers is
an open-ended task: no accuracy, only the comparison with the teacher.
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
    reference: str | None = None
    """A reference answer for the held-out loss (None: the item has none)."""


@dataclass(frozen=True)
class Task:
    name: str
    items: list[Item]
    checker: Checker | None
    """None for open-ended tasks: no accuracy, only agreement with the teacher."""

    def reference_rows(self) -> list[dict[str, Any]]:
        """The items that carry a reference, as rows for `distillab.evaluate.reference.reference_loss`."""
        return [
            {**row, "reference": item.reference}
            for item, row in zip(self.items, self.prompt_rows())
            if item.reference
        ]

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
        items = [Item(r["id"], r["messages"], r.get("answer"), r.get("reference")) for r in rows]
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
        raise ConfigError(
            f"task: {path} must be a .jsonl file (one item with 'answer' or 'reference' per line)"
        )
    items = _read_items(path, n, regex=checker == "regex")
    if any(item.answer is None for item in items):
        if checker is not None:
            missing = next(item for item in items if item.answer is None)
            raise DataError(f"{path}: item {missing.id!r} has no 'answer' for --checker {checker}")
        if any(item.answer is not None for item in items):
            missing = next(item for item in items if item.answer is None)
            raise DataError(
                f"{path}: item {missing.id!r} has no 'answer' while others have one; "
                "give every item an answer, or none (an open-ended task with references)"
            )
        return Task(path.stem, items, None)
    return Task(path.stem, items, load_checker(checker or "exact"))


def _text_field(row: dict[str, Any], name: str, where: str) -> str | None:
    """A row's `answer` or `reference`: absent (None), or a non-empty string or number."""
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value) == "":
        raise DataError(f"{where}: {name!r} must be a non-empty string or number")
    return str(value)


def _read_items(path: Path, n: int, *, regex: bool) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for where, row in iter_jsonl(path):
        if len(items) >= n:
            break
        parsed = parse_row(row, where)
        answer, reference = _text_field(row, "answer", where), _text_field(row, "reference", where)
        if answer is None and reference is None:
            raise DataError(f"{where}: needs an 'answer' (checked) or a 'reference' (scored), or both")
        if regex and answer is not None:
            check_regex(answer, where)
        item_id = str(row.get("id", f"line-{where.rsplit(':', 1)[1]}"))
        if item_id in seen:
            raise DataError(f"{where}: id {item_id!r} appears twice")
        seen.add(item_id)
        items.append(Item(item_id, parsed.input, answer, reference))
    if not items:
        raise DataError(f"{path}: no items")
    return items
