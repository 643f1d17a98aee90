"""Rate limits shared through Redis: one script charges an account's buckets atomically, so three gateway
replicas sharing a store and a Redis admit exactly the limit between them (local buckets admit it three
times); streamed answers are charged at admission; with Redis stopped mid-run the configured failure
mode holds, counted and logged, and exact limits resume when it is back.

Real servers on loopback: redis-server (the `redis_server` fixture), the gateways (uvicorn in threads),
and a fake OpenAI upstream whose usage is known (tests/data/fake_openai.py). Redis times the buckets with
its own clock, so each check of "exactly the limit" bounds the refill by the Redis time that passed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillab.db.store import Store
from distillab.gateway.app import create_gateway
from distillab.gateway.buckets import LocalBuckets, Rates
from distillab.gateway.metrics import Metrics
from distillab.gateway.policy import Limits
from distillab.serving.background import run_in_background


def _fake_openai() -> Any:
    """tests/data/fake_openai.py, as the tests there import it."""
    if "fake_openai" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "fake_openai", Path(__file__).parents[1] / "data" / "fake_openai.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_openai"] = module
        spec.loader.exec_module(module)
    return sys.modules["fake_openai"]


fake = _fake_openai()
CONTENT = "Ann has 3 pens. She gets 4 more."  # the gateway's prompt estimate and the fake's usage: 9 tokens
PROMPT_TOKENS, MAX_TOKENS, ANSWER_TOKENS = len(CONTENT) // 4 + 1, 8, 3
WORST = PROMPT_TOKENS + MAX_TOKENS  # what a request is charged at admission
BODY = {"model": "fake", "messages": [{"role": "user", "content": CONTENT}], "max_tokens": MAX_TOKENS}


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with fake.serve(fake.FakeOpenAI(fake.FakeSettings(tokens=ANSWER_TOKENS)).app) as url:
        yield url


def redis_seconds(url: str) -> float:
    """The Redis server's clock, which times the shared buckets."""
    import redis

    with redis.Redis.from_url(url) as client:
        seconds, micros = client.time()
    return float(seconds) + micros / 1e6


@contextmanager
def replicas(
    store_url: str, upstream: str, limits: Limits, clock: Any = None, n: int = 3
) -> Iterator[list[str]]:
    """``n`` gateways, each with its own store connection and Redis client, sharing the database."""
    stores = [Store(store_url) for _ in range(n)]
    extra = {"clock": clock} if clock is not None else {}
    try:
        with ExitStack() as stack:
            yield [
                stack.enter_context(
                    run_in_background(create_gateway(store, upstream, limits=limits, **extra))
                )
                for store in stores
            ]
    finally:
        for store in stores:
            store.close()


def round_robin(bases: list[str], key: str, n: int, body: dict[str, Any] = BODY) -> list[httpx.Response]:
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        return [client.post(bases[i % len(bases)] + "/v1/chat/completions", json=body) for i in range(n)]


def metric(base: str, name: str) -> float:
    for line in httpx.get(base + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


# -- the script -------------------------------------------------------------------------------------------


def redis_buckets(url: str, **kw: Any) -> Any:
    from distillab.gateway.redis_buckets import RedisBuckets

    return RedisBuckets(url, on_failure=kw.get("on_failure", "open"), replicas=1, metrics=Metrics())


def test_one_script_charges_both_buckets_or_neither(redis_server: Any) -> None:
    import redis

    async def run() -> list[Any]:
        buckets = redis_buckets(redis_server.url)
        await buckets.start()
        rates = Rates(rpm=3, tpm=100)
        answers = [await buckets.take("allow:a", rates, tokens) for tokens in (40, 40, 40, 10, 1)]
        await buckets.aclose()
        return answers

    started = redis_seconds(redis_server.url)
    first, second, too_many_tokens, last, too_many_requests = asyncio.run(run())
    with redis.Redis.from_url(redis_server.url) as client:
        held = client.hgetall("distillab:limits:allow:a")
        ttl = client.pttl("distillab:limits:allow:a")
    elapsed = redis_seconds(redis_server.url) - started  # the buckets refill meanwhile
    assert first.admitted and second.admitted and last.admitted and not first.local
    assert (
        too_many_tokens.kind == "tpm" and 12 - elapsed <= too_many_tokens.wait <= 12.001
    )  # 20 short, 100/min
    assert too_many_requests.kind == "rpm" and 20 - elapsed <= too_many_requests.wait <= 20.001
    # the refused 40 tokens took no request; the refused request took no tokens
    assert 0 <= float(held[b"r"]) <= 3 * elapsed / 60 and 10 <= float(held[b"t"]) <= 10 + 100 * elapsed / 60
    assert 61_000 - 2000 * elapsed - 1 <= ttl <= 61_000  # kept until the buckets would be full again


def test_buckets_refill_with_redis_time_and_settle_refunds(redis_server: Any) -> None:
    import redis

    async def run() -> tuple[list[bool], list[bool], float, float]:
        buckets = redis_buckets(redis_server.url)
        rates = Rates(rpm=6, tpm=600)
        taken = [(await buckets.take("allow:b", rates, 10)).admitted for _ in range(7)]
        with redis.Redis.from_url(redis_server.url) as client:  # half a minute passes for the buckets
            key = "distillab:limits:allow:b"
            client.hset(key, "s", int(client.hget(key, "s") or 0) - 30_000_000)
        later = [(await buckets.take("allow:b", rates, 10)).admitted for _ in range(4)]
        admitted = await buckets.take("allow:s", Rates(rpm=None, tpm=60), 50)
        with redis.Redis.from_url(redis_server.url) as client:
            before = float(client.hget("distillab:limits:allow:s", "t") or 0)
        await buckets.settle("allow:s", Rates(None, 60), 50, 20, admitted)  # used 20 of the 50 charged
        with redis.Redis.from_url(redis_server.url) as client:
            after = float(client.hget("distillab:limits:allow:s", "t") or 0)
        await buckets.aclose()
        return taken, later, before, after

    started = redis_seconds(redis_server.url)
    taken, later, before, after = asyncio.run(run())
    elapsed = redis_seconds(redis_server.url) - started
    assert taken == [True] * 6 + [False]
    assert later == [True] * 3 + [False]  # 30 s refill 3 of the 6 requests (and 300 of the tokens)
    assert 30 <= after - before <= 30 + elapsed  # the 30 tokens back, and 1 a second refilled


def test_replicas_racing_admit_exactly_the_limit(redis_server: Any) -> None:
    async def race(make: Any) -> int:
        replicas = [make() for _ in range(3)]
        answers = await asyncio.gather(
            *(replica.take("allow:c", Rates(rpm=50, tpm=None), 1) for _ in range(60) for replica in replicas)
        )
        for replica in replicas:
            await replica.aclose()
        return sum(answer.admitted for answer in answers)

    started = redis_seconds(redis_server.url)
    shared = asyncio.run(race(lambda: redis_buckets(redis_server.url)))
    refilled = 50 * (redis_seconds(redis_server.url) - started) / 60
    assert 50 <= shared <= 50 + refilled
    assert asyncio.run(race(LocalBuckets)) == 150  # each process's own buckets: three times the limit


# -- three gateway replicas ---------------------------------------------------------------------------------


def test_three_replicas_admit_exactly_the_rpm_limit(store_url: str, redis_server: Any, upstream: str) -> None:
    with Store(store_url) as store:
        _, key = store.create_key("acme")
    with replicas(store_url, upstream, Limits(rpm=6, redis=redis_server.url)) as bases:
        started = redis_seconds(redis_server.url)
        answers = round_robin(bases, key, 18)
        refilled = 6 * (redis_seconds(redis_server.url) - started) / 60
    codes = [answer.status_code for answer in answers]
    assert 6 <= codes.count(200) <= 6 + refilled and set(codes) == {200, 429}
    assert codes[:6] == [200] * 6
    refused = answers[codes.index(429)]
    assert (
        refused.json()["error"]["code"] == "rate_limit_exceeded" and int(refused.headers["Retry-After"]) >= 1
    )
    with Store(store_url) as store:
        logged = [r["decision"] for r in store.iter_logs(account="acme")]
    assert logged.count("allow") == codes.count(200) and logged.count("rate_limited") == codes.count(429)
    # What the issue was: each replica's own buckets let the account through three times over.
    with Store(store_url) as store:
        _, other = store.create_key("bob")
    with replicas(store_url, upstream, Limits(rpm=6)) as bases:
        assert [a.status_code for a in round_robin(bases, other, 18)] == [200] * 18


def test_three_replicas_hold_tpm_streams_included(tmp_path: Path, redis_server: Any, upstream: str) -> None:
    """Admission charges the worst case (prompt estimate + max_tokens); an answer's usage, when it
    reports one, settles it. So the tokens admitted within the run never exceed the limit plus what
    refilled, and a refusal means the next worst case did not fit."""
    db = str(tmp_path / "gateway.db")
    with Store(db) as store:
        _, key = store.create_key("acme")
    tpm = 150
    kinds = [
        BODY,  # answered whole, with usage: charged 9 + 3
        {**BODY, "stream": True, "stream_options": {"include_usage": True}},  # the same, streamed
        {**BODY, "stream": True},  # streamed without usage: charged the worst case, 9 + 8
    ]
    charged: list[int] = []
    first_refusal: int | None = None
    with replicas(db, upstream, Limits(tpm=tpm, redis=redis_server.url)) as bases:
        started = redis_seconds(redis_server.url)
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for i in range(30):
                body = kinds[i % 3]
                answer = client.post(bases[i % 3] + "/v1/chat/completions", json=body)
                if answer.status_code == 429:
                    first_refusal = len(charged) if first_refusal is None else first_refusal
                    continue
                assert answer.status_code == 200
                charged.append(_used(answer, body))
        refilled = tpm * (redis_seconds(redis_server.url) - started) / 60
    assert first_refusal is not None and sum(charged[:first_refusal]) + WORST > tpm  # refused only when full
    assert sum(charged) <= tpm + refilled  # no overshoot
    assert charged[:3] == [PROMPT_TOKENS + ANSWER_TOKENS] * 2 + [WORST]


def _used(answer: httpx.Response, body: dict[str, Any]) -> int:
    """The tokens an answer is charged: its reported usage, or its worst case when it reports none."""
    if not body.get("stream"):
        usage = answer.json()["usage"]
        return int(usage["prompt_tokens"] + usage["completion_tokens"])
    events = [line[6:] for line in answer.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    usages = [json.loads(e)["usage"] for e in events[:-1] if json.loads(e).get("usage")]
    return int(usages[0]["prompt_tokens"] + usages[0]["completion_tokens"]) if usages else WORST


def test_concurrent_streams_are_charged_when_admitted(tmp_path: Path, redis_server: Any) -> None:
    """Nine streams at once, from three replicas, against room for three worst cases: three start.
    (Charging a stream only once it ends would let all nine through.)"""
    db = str(tmp_path / "gateway.db")
    with Store(db) as store:
        _, key = store.create_key("acme")
    slow = fake.FakeOpenAI(fake.FakeSettings(tokens=ANSWER_TOKENS, latency=0.5))
    body = {**BODY, "stream": True}

    async def nine(bases: list[str]) -> list[int]:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            answers = await asyncio.gather(
                *(client.post(bases[i % 3] + "/v1/chat/completions", json=body) for i in range(9))
            )
        return [answer.status_code for answer in answers]

    with fake.serve(slow.app) as upstream:
        with replicas(db, upstream, Limits(tpm=3 * WORST, redis=redis_server.url)) as bases:
            codes = asyncio.run(nine(bases))
    assert sorted(codes) == [200] * 3 + [429] * 6


# -- Redis stopped mid-run ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_redis_stopped_mid_run_then_back(
    mode: str, tmp_path: Path, redis_server: Any, upstream: str, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from distillab.gateway.redis_buckets import RETRY_S

    db = str(tmp_path / "gateway.db")
    with Store(db) as store:
        _, key = store.create_key("acme")
    limits = Limits(rpm=6, redis=redis_server.url, on_failure=mode, replicas=3)
    caplog.set_level(logging.WARNING, logger="distillab.gateway")
    with replicas(db, upstream, limits, clock=clock) as bases:
        started = redis_seconds(redis_server.url)
        before = [a.status_code for a in round_robin(bases, key, 18)]
        refilled_before = 6 * (redis_seconds(redis_server.url) - started) / 60
        redis_server.stop()
        during = round_robin(bases, key, 18)
        fallbacks = [metric(b, f'distillab_limits_fallback_total{{mode="{mode}"}}') for b in bases]
        down = [metric(b, "distillab_limits_redis_down") for b in bases]
        redis_server.start()  # on the same port, empty
        clock.now += RETRY_S  # the replicas ask Redis again
        started = redis_seconds(redis_server.url)
        after = [a.status_code for a in round_robin(bases, key, 18)]
        refilled = 6 * (redis_seconds(redis_server.url) - started) / 60
        back = [metric(b, "distillab_limits_redis_down") for b in bases]
        fallbacks_after = [metric(b, f'distillab_limits_fallback_total{{mode="{mode}"}}') for b in bases]
    assert 6 <= before.count(200) <= 6 + refilled_before
    codes = [a.status_code for a in during]
    if mode == "open":  # each replica on its own, at a third of the limit: 2 each, the limit in all
        assert [codes[i::3].count(200) for i in range(3)] == [2, 2, 2]
    else:
        assert set(codes) == {429} and during[0].json()["error"]["code"] == "limits_unavailable"
        assert int(during[0].headers["Retry-After"]) >= 1
    assert fallbacks == fallbacks_after == [6.0, 6.0, 6.0] and down == [1.0] * 3 and back == [0.0] * 3
    assert 6 <= after.count(200) <= 6 + refilled  # exact again, on the fresh Redis's full buckets
    events = [json.loads(r.getMessage())["event"] for r in caplog.records if r.getMessage().startswith("{")]
    assert events.count("limits_redis_down") == 3 and events.count("limits_redis_back") == 3
