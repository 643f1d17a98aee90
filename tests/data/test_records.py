"""Records: stable ids, compact top-k that round-trips, a torn journal line dropped, datasets-readable."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import datasets
import pytest

from distillab.data.journal import Journal, journal_dir, read_journal
from distillab.data.prompts import PromptRow
from distillab.data.records import build_records, read_records, record_id
from distillab.data.store import compact, ids_in, load_done
from distillab.teacher.base import Generation, Sample, SamplingParams

PARAMS = SamplingParams(top_logprobs=3).as_dict()
CHAT = [{"role": "user", "content": "hi"}]


def _generation(samples: int = 2) -> Generation:
    return Generation(
        samples=[
            Sample(
                text=f"answer {s}",
                finish_reason="stop",
                token_ids=[5 + s, 9],
                token_logprobs=[-0.25, -1.5],
                top_ids=[[5 + s, 6, 7], [9, 1, 2]],
                top_logprobs=[[-0.25, -2.0, -3.123456], [-1.5, -1.75, -20.0]],
            )
            for s in range(samples)
        ],
        prompt_tokens=10,
        completion_tokens=4,
    )


def test_record_id_is_stable_and_sensitive() -> None:
    base = record_id("t", CHAT, PARAMS, 0)
    assert base == record_id("t", [dict(m) for m in CHAT], dict(PARAMS), 0)
    assert (
        len(
            {
                base,
                record_id("u", CHAT, PARAMS, 0),
                record_id("t", "hi", PARAMS, 0),
                record_id("t", CHAT, dict(PARAMS, temperature=0.5), 0),
                record_id("t", CHAT, PARAMS, 1),
            }
        )
        == 5
    )


def test_usage_splits_so_totals_are_exact() -> None:
    records = build_records(PromptRow(CHAT, "p1", "f:1"), "t", PARAMS, [0, 1], _generation())
    assert [r["usage"] for r in records] == [
        {"prompt_tokens": 10, "completion_tokens": 2, "request_samples": 2}
    ] * 2
    assert [r["prompt_id"] for r in records] == ["p1", "p1"]


def _journal(out: Path, records: list[dict]) -> None:
    async def write() -> None:
        journal = Journal(out)
        await asyncio.gather(*(journal.append([r]) for r in records))
        journal.close()

    asyncio.run(write())


def test_torn_last_line_is_dropped_and_compaction_dedupes(tmp_path: Path) -> None:
    row = PromptRow(CHAT, None, "f:1")
    records = build_records(row, "t", PARAMS, [0, 1], _generation())
    _journal(tmp_path, records)
    _journal(tmp_path, records[:1])  # a rerun journaled the same record again
    torn = journal_dir(tmp_path) / "part-9999999999999999999-1.jsonl"
    torn.write_text(json.dumps(records[0])[:40])  # kill -9 mid-write: no newline
    assert [r["id"] for r in read_journal(tmp_path)] == [records[0]["id"], records[1]["id"], records[0]["id"]]
    done = load_done(tmp_path)
    assert done.ids == {r["id"] for r in records} and done.prompt_tokens == 10 and done.completion_tokens == 4
    assert compact(tmp_path) == 2
    assert sorted(ids_in(tmp_path)) == sorted(r["id"] for r in records)
    assert not list(journal_dir(tmp_path).glob("part-*.jsonl"))


def test_topk_round_trips_compactly_and_loads_with_datasets(tmp_path: Path) -> None:
    out = tmp_path / "out"
    records = build_records(PromptRow(CHAT, None, "f:1"), "t", PARAMS, [0, 1], _generation())
    records += build_records(
        PromptRow("raw prompt", None, "f:2"),
        "t",
        PARAMS,
        [0],
        Generation([Sample("text only", "length")], 3, 7),
    )
    _journal(out, records)
    compact(out)
    table = read_records(out)
    assert table.schema.field("top_logprobs").type.value_type.value_type == "halffloat"
    rows = {r["id"]: r for r in table.to_pylist()}
    first = rows[records[0]["id"]]
    assert first["token_ids"] == [5, 9] and first["top_ids"] == [[5, 6, 7], [9, 1, 2]]
    flat_in = [v for row in _generation().samples[0].top_logprobs for v in row]
    flat_out = [v for row in first["top_logprobs"] for v in row]
    assert all(math.isclose(a, b, rel_tol=1e-3) for a, b in zip(flat_in, flat_out))
    assert first["messages"] == CHAT and first["prompt"] is None
    text = rows[records[2]["id"]]
    assert (
        text["prompt"] == "raw prompt"
        and text["top_logprobs"] is None
        and text["usage"]["completion_tokens"] == 7
    )
    (out / "manifest.json").write_text("{}")  # must not be mistaken for data
    for ds in (
        datasets.load_dataset("parquet", data_dir=str(out / "data"), cache_dir=str(tmp_path / "c")),
        datasets.load_dataset(str(out), cache_dir=str(tmp_path / "c2")),
    ):
        train = ds["train"]
        assert sorted(train["id"]) == sorted(rows)
        got = next(r for r in train if r["id"] == records[0]["id"])
        assert got["top_ids"] == [[5, 6, 7], [9, 1, 2]]
        assert got["top_logprobs"][1][2] == pytest.approx(-20.0, rel=1e-3)


def test_strings_and_ragged_rows_round_trip(tmp_path: Path) -> None:
    sample = Sample(
        text="ab",
        finish_reason="stop",
        tokens=["a", "b"],
        token_logprobs=[-0.1, float("-inf")],
        top_tokens=[["a", "z"], ["b"]],
        top_logprobs=[[-0.1, -4.0], [-0.5]],
    )
    records = build_records(PromptRow("p", None, "f:1"), "t", PARAMS, [0], Generation([sample], 1, 2))
    _journal(tmp_path, records)
    compact(tmp_path)
    row = read_records(tmp_path).to_pylist()[0]
    assert row["tokens"] == ["a", "b"] and row["token_ids"] is None and row["top_ids"] is None
    assert row["top_tokens"] == [["a", "z"], ["b"]] and row["token_logprobs"][1] == float("-inf")
    assert [len(r) for r in row["top_logprobs"]] == [2, 1] and row["top_logprobs"][0][1] == -4.0


def test_files_from_before_the_draw_columns_still_read_and_compact(tmp_path: Path) -> None:
    """A harvest written before the sampled signal existed: its file lacks the draw columns, and a
    resumed run (new records in the journal) compacts it with them null."""
    import pyarrow.parquet as pq

    from distillab.data.records import SCHEMA, to_table
    from distillab.data.store import DATA_FILE

    old = build_records(PromptRow(CHAT, "p1", "f:1"), "t", PARAMS, [0], _generation(1))
    table = to_table(old).drop_columns(["draw_ids", "draw_counts", "entropy"])
    (tmp_path / "data").mkdir()
    pq.write_table(table, tmp_path / DATA_FILE)
    assert read_records(tmp_path)["draw_ids"].to_pylist() == [None]

    sample = Sample("drawn", "stop", token_ids=[5], token_logprobs=[-0.1])
    sample.draw_ids, sample.draw_counts, sample.entropy = [[5, 8]], [[11, 1]], [0.25]
    other = [{"role": "user", "content": "hello"}]
    new = build_records(PromptRow(other, "p2", "f:2"), "t", PARAMS, [0], Generation([sample], 3, 1))

    async def journal() -> None:
        j = Journal(tmp_path)
        await j.append(new)
        j.close()

    asyncio.run(journal())
    assert compact(tmp_path) == 2
    rows = {r["completion"]: r for r in read_records(tmp_path).to_pylist()}
    assert rows["answer 0"]["draw_ids"] is None and rows["answer 0"]["top_ids"] == [[5, 6, 7], [9, 1, 2]]
    assert rows["drawn"]["draw_ids"] == [[5, 8]] and rows["drawn"]["draw_counts"] == [[11, 1]]
    assert rows["drawn"]["entropy"] == [0.25] and rows["drawn"]["top_ids"] is None
    assert pq.read_schema(tmp_path / DATA_FILE).equals(SCHEMA, check_metadata=False)
