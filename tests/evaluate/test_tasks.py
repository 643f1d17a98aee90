"""Task files: what a valid one gives, and errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillab.errors import ConfigError, DataError
from distillab.evaluate.tasks import load_task


def write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_task(tmp_path: Path) -> None:
    task = load_task(
        str(
            write(
                tmp_path / "qa.jsonl",
                [
                    {"id": "a", "messages": [{"role": "user", "content": "2+3?"}], "answer": 5},
                    {"prompt": "The capital of France is", "answer": "Paris"},
                ],
            )
        ),
        n=10,
        checker="numeric",
    )
    assert [i.id for i in task.items] == ["a", "line-2"] and task.items[0].answer == "5"
    assert (
        task.items[1].input == "The capital of France is" and task.checker and task.checker.name == "numeric"
    )
    assert load_task(str(tmp_path / "qa.jsonl"), n=1).items[0].id == "a"


def test_builtin_arith_is_the_held_out_split() -> None:
    from distillab.toy.arith import problems

    task = load_task("arith", n=5)
    assert [i.answer for i in task.items] == [p.final for p in problems("test", 5, seed=0)]
    assert task.checker is not None and task.checker.name == "numeric"
    assert load_task("text", n=3).checker is None


@pytest.mark.parametrize(
    "rows, message",
    [
        (['{"prompt": "x", "answer": "1"}', "{not json"], "qa.jsonl:2: not valid JSON"),
        ([{"prompt": "x"}], "qa.jsonl:1: needs an 'answer' \\(checked\\) or a 'reference'"),
        ([{"prompt": "x", "answer": ""}], "qa.jsonl:1: 'answer' must be"),
        ([{"answer": "1"}], "qa.jsonl:1: needs exactly one of 'messages' or 'prompt'"),
        (
            [{"id": 1, "prompt": "x", "answer": "1"}, {"id": 1, "prompt": "y", "answer": "2"}],
            "qa.jsonl:2: id '1'",
        ),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, rows: list[object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_task(str(write(tmp_path / "qa.jsonl", rows)), n=10)


def test_bad_task_and_regex(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither a built-in task"):
        load_task("nope", n=1)
    with pytest.raises(ConfigError, match="qa.jsonl:1: answer '\\(' is not a valid regular expression"):
        load_task(str(write(tmp_path / "qa.jsonl", [{"prompt": "x", "answer": "("}])), n=1, checker="regex")


def test_references_make_an_open_ended_task(tmp_path: Path) -> None:
    path = write(
        tmp_path / "qa.jsonl",
        [{"prompt": "What does textwrap.dedent do?", "reference": "Remove common leading whitespace."}],
    )
    task = load_task(str(path), n=5)
    assert task.checker is None and task.items[0].answer is None
    assert task.reference_rows() == [
        {
            "id": "line-1",
            "prompt": "What does textwrap.dedent do?",
            "reference": "Remove common leading whitespace.",
        }
    ]
    with pytest.raises(DataError, match="has no 'answer' for --checker exact"):
        load_task(str(path), n=5, checker="exact")
    mixed = write(
        tmp_path / "mixed.jsonl", [{"prompt": "a", "answer": "1"}, {"prompt": "b", "reference": "2"}]
    )
    with pytest.raises(DataError, match="no 'answer' while others have one"):
        load_task(str(mixed), n=5)
