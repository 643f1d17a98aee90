"""Harvests against fake OpenAI-compatible servers on loopback: faults, probing, budgets, resume."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fake_openai import PROBE_TEXTS
from rich.console import Console

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.journal import read_journal
from distillab.data.limits import RateLimiter
from distillab.data.records import read_records
from distillab.errors import BudgetExceeded, ConfigError


def _config(url: str, prompts: Path, out: Path, **kw: Any) -> HarvestConfig:
    kw = {"retry_base_delay": 0.0, "progress": False, **kw}
    return HarvestConfig(teacher=url, prompts=prompts, out=out, **kw)


def _run(config: HarvestConfig) -> tuple[Any, str]:
    buffer = io.StringIO()
    result = run_harvest(config, console=Console(file=buffer, width=400))
    return result, buffer.getvalue()


def test_faulty_server_every_record_once(fake_server, write_prompts, tmp_path: Path) -> None:
    fake, url = fake_server(fail_rate=0.3, hang=0.6)
    prompts = write_prompts(40)
    result, log = _run(
        _config(url, prompts, tmp_path / "out", n=2, concurrency=8, timeout=0.3, max_retries=30)
    )
    table = read_records(tmp_path / "out")
    assert table.num_rows == result.records == 80
    assert len(set(table["id"].to_pylist())) == 80
    pairs = Counter(zip(table["prompt_id"].to_pylist(), table["sample_index"].to_pylist()))
    assert set(pairs) == {(f"q{i}", s) for i in range(40) for s in (0, 1)} and max(pairs.values()) == 1
    assert sum(fake.asked.values()) > 40 and "retried after transient errors" in log  # faults did happen
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"prompts": 40, "records": 80, "new_records": 80, "failed": 0}
    assert manifest["teacher"]["capabilities"]["mode"] == "topk" and manifest["complete"]
    assert not (tmp_path / "out" / ".journal").exists()


@pytest.mark.parametrize("mode", ["none", "reject"])
def test_text_only_server_falls_back_with_notice(
    fake_server, write_prompts, tmp_path: Path, mode: str
) -> None:
    fake, url = fake_server(logprobs=mode)
    result, log = _run(_config(url, write_prompts(3), tmp_path / "out"))
    assert result.capabilities.mode == "text" and "text only" in log and "notice:" in log
    assert ("rejected" if mode == "reject" else "ignored") in result.capabilities.note
    row = read_records(tmp_path / "out").to_pylist()[0]
    assert row["completion"] and row["token_logprobs"] is None and row["params"]["logprobs"] is False
    assert all("logprobs" not in body for body in fake.bodies)


def test_topk_clamped_to_what_the_server_returns(fake_server, write_prompts, tmp_path: Path) -> None:
    _, url = fake_server(logprobs="strings", max_top=5)
    result, log = _run(_config(url, write_prompts(2, chat=False), tmp_path / "out", top_logprobs=8))
    assert "--top-logprobs 8 is more than the teacher returns; using 5" in log
    row = read_records(tmp_path / "out").to_pylist()[0]
    assert row["params"]["top_logprobs"] == 5 and row["token_ids"] is None
    assert [len(r) for r in row["top_tokens"]] == [5] * len(row["tokens"])
    assert row["top_logprobs"][0] == sorted(row["top_logprobs"][0], reverse=True)


def test_requests_per_minute_are_paced(
    fake_server, write_prompts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = fake_server()
    now = [0.0]  # the limiter's clock: it moves only when the limiter waits
    granted: list[float] = []

    async def wait(seconds: float) -> None:
        now[0] += max(seconds, 1e-6)  # a real sleep always takes some time: the bucket's loop moves on
        await asyncio.sleep(0)

    class Virtual(RateLimiter):
        def __init__(self, rpm: float | None, tpm: float | None):
            super().__init__(rpm, tpm, clock=lambda: now[0], sleep=wait)

        async def request_slot(self) -> None:
            await super().request_slot()
            granted.append(now[0])

    monkeypatch.setattr("distillab.data.harvest.RateLimiter", Virtual)
    config = _config(url, write_prompts(40), tmp_path / "out", rpm=1920, concurrency=8, model="fake-teacher")
    _run(config)  # 32 requests a second, one second's burst
    # 32 go at once (the probe's among them); the rest wait for the bucket to refill at 32 per second.
    assert len(granted) == fake.probes + 40 and sum(fake.asked.values()) == 40
    assert granted[:32] == [0.0] * 32
    assert granted[32:] == pytest.approx([k / 32 for k in range(1, len(granted) - 31)])


def test_server_ignoring_n_still_gives_n_samples(fake_server, write_prompts, tmp_path: Path) -> None:
    fake, url = fake_server(honor_n=False)
    result, _ = _run(_config(url, write_prompts(3), tmp_path / "out", n=3))
    assert result.records == 9 and set(fake.asked.values()) == {3}


def test_rejected_prompts_are_counted_and_retried_on_rerun(
    fake_server, write_prompts, tmp_path: Path
) -> None:
    fake, url = fake_server(reject_containing="number 1")  # "number 1" and "number 10".."19"
    prompts = write_prompts(12)
    result, log = _run(_config(url, prompts, tmp_path / "out"))
    assert result.failed == 3 and result.records == 9 and "rejected by the teacher" in log
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] is False and "prompt refused" in manifest["failures"][0]["error"]
    fake.settings.reject_containing = ""
    result, _ = _run(_config(url, prompts, tmp_path / "out"))
    assert result.records == 12 and result.new_records == 3 and max(fake.answered.values()) == 1


def test_budget_stops_before_crossing_then_resumes(fake_server, write_prompts, tmp_path: Path) -> None:
    fake, url = fake_server()
    prompts = write_prompts(10)
    # Worst case per request: 16 completion tokens at $1000/M = $0.016 (+ prompt); actual use is 6 tokens.
    kw = {"max_tokens": 16, "price_in": 1000.0, "price_out": 1000.0, "concurrency": 1}
    with pytest.raises(BudgetExceeded, match=r"before the budget of \$0.05 could be exceeded"):
        _run(_config(url, prompts, tmp_path / "out", budget_usd=0.05, **kw))
    journaled = list(read_journal(tmp_path / "out"))
    spent = sum((r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"]) * 1e-3 for r in journaled)
    assert 0 < len(journaled) < 10 and spent <= 0.05
    assert not (tmp_path / "out" / "manifest.json").exists()
    result, log = _run(_config(url, prompts, tmp_path / "out", budget_usd=1.0, **kw))
    assert result.records == 10 and f"resuming: {len(journaled)} records already stored" in log
    assert max(fake.answered.values()) == 1 and result.cost_usd == pytest.approx(
        sum(fake.answered.values()) * 6e-3 + result.prompt_tokens * 1e-3
    )


def test_the_probe_counts_against_the_rate_limit(
    fake_server, write_prompts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = fake_server()
    slots: list[int] = []

    class Counted(RateLimiter):
        async def request_slot(self) -> None:
            slots.append(1)
            await super().request_slot()

    monkeypatch.setattr("distillab.data.harvest.RateLimiter", Counted)
    # Every request the server saw took a slot of --rpm first, the probe's included (before, it took none
    # and the first harvest request went out at once). The pacing itself: tests/data/test_limits.py.
    _run(_config(url, write_prompts(2), tmp_path / "out", rpm=6000, model="fake-teacher"))
    assert fake.probes >= 1 and len(slots) == fake.probes + sum(fake.asked.values()) == fake.probes + 2


def test_dry_run_asks_nothing(fake_server, write_prompts, tmp_path: Path, tiny_model_dir: Path) -> None:
    fake, url = fake_server()
    prompts = write_prompts(4)
    result, log = _run(
        _config(url, prompts, tmp_path / "out", dry_run=True, n=2, max_tokens=10, price_out=2.0)
    )
    estimate = result.estimate
    assert estimate.records == 8 and estimate.max_completion_tokens == 80 and "heuristic" in estimate.method
    assert (
        estimate.max_cost_usd == pytest.approx(80 * 2.0 / 1e6) and "Nothing was sent" in estimate.describe()
    )
    assert not fake.asked and not (tmp_path / "out").exists()
    local, _ = _run(_config(str(tiny_model_dir), prompts, tmp_path / "out", dry_run=True))
    assert local.estimate.method == "teacher tokenizer" and local.estimate.prompt_tokens > 0


def test_dry_run_into_a_partial_harvest_estimates_what_is_left(
    fake_server, write_prompts, tmp_path: Path
) -> None:
    fake, url = fake_server()
    _run(_config(url, write_prompts(4), tmp_path / "out", n=2, max_tokens=10))
    asked = sum(fake.asked.values())
    more = write_prompts(6, name="more.jsonl")  # the same 4 prompts and 2 new ones
    result, _ = _run(_config(url, more, tmp_path / "out", dry_run=True, n=2, max_tokens=10, price_out=2.0))
    estimate = result.estimate
    assert (estimate.prompts, estimate.records, estimate.stored) == (2, 4, 8)
    assert (
        estimate.max_completion_tokens == 40 and "still to harvest (8 already stored)" in estimate.describe()
    )
    assert "assuming the endpoint still serves fake-teacher (--model would check)" in estimate.describe()
    assert sum(fake.asked.values()) == asked  # nothing sent
    done, _ = _run(
        _config(url, write_prompts(4, name="same.jsonl"), tmp_path / "out", dry_run=True, n=2, max_tokens=10)
    )
    assert (done.estimate.records, done.estimate.max_cost_usd, done.estimate.stored) == (0, 0.0, 8)
    # --overwrite over the same teacher and params resumes too.
    again, _ = _run(_config(url, more, tmp_path / "out", dry_run=True, n=2, max_tokens=10, overwrite=True))
    assert (again.estimate.records, again.estimate.stored) == (4, 8)
    # Another teacher, other params, fewer log-probabilities than stored: a rerun would refuse them (or
    # start over with --overwrite), so the whole file is estimated, and the estimate says why.
    for change, named in (
        ({"temperature": 0.5}, "temperature"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"model": "other-model"}, "teacher (fake-teacher)"),
    ):
        other, _ = _run(_config(url, more, tmp_path / "out", dry_run=True, n=2, max_tokens=10, **change))
        assert (other.estimate.records, other.estimate.stored) == (12, 0)
        assert (
            f"another {named}" in other.estimate.describe()
            and "refused without --overwrite" in other.estimate.note
        )
    # A prompt that repeats is asked once.
    repeated = tmp_path / "repeated.jsonl"
    repeated.write_text(more.read_text() + more.read_text().splitlines()[0] + "\n")
    fresh, _ = _run(_config(url, repeated, tmp_path / "elsewhere", dry_run=True, n=2, max_tokens=10))
    assert (fresh.estimate.prompts, fresh.estimate.records) == (6, 12)


def test_other_params_refused_unless_overwrite(fake_server, write_prompts, tmp_path: Path) -> None:
    fake, url = fake_server()
    prompts = write_prompts(2)
    _run(_config(url, prompts, tmp_path / "out"))
    with pytest.raises(ConfigError, match="different teacher or params.*temperature.*--overwrite"):
        _run(_config(url, prompts, tmp_path / "out", temperature=0.5))
    result, _ = _run(_config(url, prompts, tmp_path / "out", temperature=0.5, overwrite=True))
    assert (
        result.records == 2 and read_records(tmp_path / "out")["params"].to_pylist()[0]["temperature"] == 0.5
    )


def test_more_samples_later_asks_only_for_the_new_ones(
    fake_server, write_prompts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = fake_server()
    prompts = write_prompts(3)
    first, _ = _run(_config(url, prompts, tmp_path / "out", n=1))
    monkeypatch.setattr("distillab.data.manifest.now_iso", lambda: "later")
    second, _ = _run(_config(url, prompts, tmp_path / "out", n=3))
    assert (first.records, second.records, second.skipped) == (3, 9, 3)
    assert second.manifest["created"] == first.manifest["created"] != "later"
    assert second.manifest["finished"] == "later" and second.manifest["params"]["n"] == 3
    assert [body["n"] for body in fake.bodies] == [1, 1, 1, 2, 2, 2]
    assert not set(fake.asked) & PROBE_TEXTS


def test_samples_split_over_requests_keep_their_seeds(fake_server, write_prompts, tmp_path: Path) -> None:
    """--n-per-request splits a prompt's samples into requests of consecutive indices; a seeded request
    for samples k.. is sent seed + k, so sample i is drawn with seed + i however the work is split."""
    fake, url = fake_server()
    prompts = write_prompts(2)
    result, _ = _run(_config(url, prompts, tmp_path / "out", n=5, n_per_request=2, seed=100))
    assert result.records == 10
    per_prompt = sorted((body["messages"][-1]["content"], body["seed"], body["n"]) for body in fake.bodies)
    assert per_prompt == [
        (f"question number {q}", s, n) for q in (0, 1) for s, n in ((100, 2), (102, 2), (104, 1))
    ]
    # Raising --n later asks for samples 5 and 6 in one request, seeded 105.
    fake.bodies.clear()
    _run(_config(url, prompts, tmp_path / "out", n=7, n_per_request=2, seed=100))
    assert sorted((b["seed"], b["n"]) for b in fake.bodies) == [(105, 2), (105, 2)]


def test_a_prompt_the_local_model_cannot_take_fails_alone(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A local teacher refuses a prompt longer than its context as a server's 400 would: that prompt is
    a failure, the others are answered."""
    context = json.loads((tiny_model_dir / "config.json").read_text())["max_position_embeddings"]
    rows = [{"id": "short", "prompt": "import json"}, {"id": "long", "prompt": "x " * context}]
    rows.append({"id": "after", "prompt": "def main"})
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result, log = _run(_config(str(tiny_model_dir), prompts, tmp_path / "out", max_tokens=4))
    assert result.records == 2 and result.failed == 1 and "rejected by the teacher" in log
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    [failure] = manifest["failures"]
    assert "context length" in failure["error"] and failure["prompt"].endswith("prompts.jsonl:2")
