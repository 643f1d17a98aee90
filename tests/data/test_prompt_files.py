"""Prompt files: three formats, ids kept, every malformed row named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillab.data.prompts import file_sha256, read_prompts
from distillab.errors import DataError

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]


def test_jsonl_csv_parquet_read_the_same(tmp_path: Path) -> None:
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text(json.dumps({"id": 7, "messages": CHAT}) + "\n\n" + json.dumps({"prompt": "Once"}) + "\n")
    csv = tmp_path / "p.csv"
    csv.write_text('id,messages,prompt\n7,"' + json.dumps(CHAT).replace('"', '""') + '",\n,,Once\n')
    parquet = tmp_path / "p.parquet"
    pq.write_table(
        pa.table({"id": ["7", None], "messages": [json.dumps(CHAT), None], "prompt": [None, "Once"]}), parquet
    )
    for path in (jsonl, csv, parquet):
        rows = read_prompts(path)
        assert [r.input for r in rows] == [CHAT, "Once"], path
        assert [r.id for r in rows] == ["7", None], path


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"messages": [{"role": "user"}]}', "messages[0].content must be a string"),
        ('{"messages": [{"role": "wizard", "content": "x"}]}', "messages[0].role is 'wizard'"),
        ('{"prompt": "a", "messages": [{"role": "user", "content": "b"}]}', "found both"),
        ('{"id": 3}', "found neither"),
        ('{"prompt": ', "not valid JSON"),
        ('["prompt"]', "expected an object"),
    ],
)
def test_malformed_jsonl_row_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "fine"}\n{"prompt": "fine too"}\n' + line + "\n")
    with pytest.raises(DataError) as err:
        read_prompts(path)
    assert f"{path}:3" in str(err.value) and problem in str(err.value)


def test_malformed_csv_and_parquet_rows_are_located(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text('messages\n"[{""role"": ""user"", ""content"": ""hi""}]"\n"not json"\n')
    with pytest.raises(DataError, match=rf"{csv}:3: 'messages' is not valid JSON"):
        read_prompts(csv)
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"prompt": ["ok", None, "ok"]}), parquet)
    with pytest.raises(DataError, match=rf"{parquet}:row 1: needs exactly one"):
        read_prompts(parquet)


def test_unsupported_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("hello")
    with pytest.raises(DataError, match="unsupported prompt file type"):
        read_prompts(tmp_path / "p.txt")
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(DataError, match="contains no prompts"):
        read_prompts(tmp_path / "e.jsonl")
    with pytest.raises(DataError, match="not found"):
        read_prompts(tmp_path / "missing.jsonl")


def test_hash_follows_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"prompt": "x"}\n')
    b.write_text('{"prompt": "x"}\n')
    assert file_sha256(a) == file_sha256(b)
    b.write_text('{"prompt": "y"}\n')
    assert file_sha256(a) != file_sha256(b)
