"""Pacing, retries and the spending limit, without a network."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from distillab.data.budget import Ledger, Prices, TokenEstimator
from distillab.data.config import HarvestConfig
from distillab.data.limits import TokenBucket
from distillab.data.retry import RetryPolicy, call_with_retries
from distillab.errors import ConfigError, TeacherError
from distillab.teacher.http import RetryableTeacherError, parse_retry_after


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(
        format_datetime(now + timedelta(seconds=30), usegmt=True), now=now.timestamp()
    ) == pytest.approx(30.0)
    assert (
        parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now.timestamp()) == 0
    )
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=4.0)
    rng = random.Random(0)
    delays = [policy.delay(attempt, None, rng) for attempt in range(6) for _ in range(50)]
    assert min(delays) >= 0 and max(delays) <= 4.0 and max(delays[:50]) <= 1.0
    assert policy.delay(0, 9.0, rng) >= 9.0


def test_retries_until_success_then_gives_up_naming_the_error() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableTeacherError("http://x/v1/chat/completions answered 503: busy", retry_after=0)
        return "ok"

    policy = RetryPolicy(max_retries=2, base_delay=0.0)
    assert asyncio.run(call_with_retries(flaky, policy)) == "ok" and len(calls) == 3
    calls.clear()
    with pytest.raises(
        TeacherError, match=r"gave up after 2 attempts: http://x/v1/chat/completions answered 503"
    ):
        asyncio.run(call_with_retries(flaky, RetryPolicy(max_retries=1, base_delay=0.0)))


def test_token_bucket_paces_to_the_rate() -> None:
    clock = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    async def run() -> None:
        bucket = TokenBucket(per_minute=120, clock=lambda: clock[0], sleep=fake_sleep)  # 2/s, 1 s burst
        for _ in range(6):
            await bucket.take(1)

    asyncio.run(run())
    assert clock[0] == pytest.approx(2.0)  # 2 from the initial burst, then 4 more at 2 per second


def test_ledger_reserves_worst_case_and_stops_before_budget() -> None:
    ledger = Ledger(Prices(input=1e6, output=1e6), budget_usd=100.0)  # $1 per token, easy arithmetic
    first = ledger.reserve(10, 40)
    assert first == 50.0
    assert ledger.reserve(10, 41) is None  # 50 reserved + 51 would cross 100
    ledger.settle(first, 10, 5)  # the request used far less than its worst case
    assert ledger.cost_usd == 15.0 and ledger.reserve(10, 75) == 85.0


def test_estimator_learns_denser_text() -> None:
    estimator = TokenEstimator()
    assert estimator.estimate("x" * 40) == 10
    estimator.observe("x" * 40, 20)
    assert estimator.estimate("x" * 40) == 20 and "heuristic" in estimator.method


def test_config_reports_all_problems_together(tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        HarvestConfig(
            teacher="http://127.0.0.1:1/v1",
            prompts=tmp_path / "missing.jsonl",
            out=tmp_path / "o",
            concurrency=-1,
            temperature=3.0,
            top_p=0.0,
            budget_usd=5.0,
        )
    text = str(err.value)
    for expected in (
        "--concurrency must be at least 1",
        "--temperature must be in [0, 2]",
        "file not found",
        "--top-p",
        "--budget-usd needs --price-in",
    ):
        assert expected in text
    assert len(err.value.problems) == 5
