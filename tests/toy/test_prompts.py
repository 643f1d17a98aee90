"""Prompt files in JSONL, CSV and Parquet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distillab.errors import ConfigError
from distillab.toy.arith import problems
from distillab.toy.prompts import prompt_rows, write_rows


def test_arith_rows_carry_the_final_answer(tmp_path: Path) -> None:
    rows = prompt_rows("arith", "test", 5, seed=0)
    first = problems("test", 5, seed=0)[0]
    assert rows[0] == {
        "id": first.id,
        "messages": [{"role": "user", "content": first.prompt}],
        "answer": first.final,
    }
    path = write_rows(rows, tmp_path / "p.jsonl")
    assert [json.loads(line) for line in path.read_text().splitlines()] == rows


def test_text_rows_in_csv_and_parquet(tmp_path: Path) -> None:
    rows = prompt_rows("text", "train", 4, seed=0)
    assert set(rows[0]) == {"id", "messages", "reference"}
    with write_rows(rows, tmp_path / "p.csv").open() as f:
        table = list(csv.DictReader(f))
    assert table[0]["prompt"] == rows[0]["messages"][0]["content"]
    assert pq.read_table(write_rows(rows, tmp_path / "p.parquet")).to_pylist() == rows


def test_bad_task_or_extension(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task"):
        prompt_rows("poetry", "test", 1)
    with pytest.raises(ConfigError, match="p.txt"):
        write_rows([], tmp_path / "p.txt")
