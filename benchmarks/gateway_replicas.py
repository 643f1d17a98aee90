r"""Benchmark: gateway replicas with their rate limits in Redis (issue 18).

Starts a fast loopback upstream (tests/data/fake_openai.py --canned, its own process), a throwaway
redis-server (no persistence), and 1 or 2 `distillab serve --upstream ... --db` processes sharing one
SQLite request log, then measures with the raw keep-alive client of benchmarks/gateway_overhead.py
(connections spread round-robin over the replicas, one account per connection):

1. throughput at `--concurrency` connections (medians of `--rounds`), for 1 and 2 replicas, with
   limits off, with limits in each process (`--rpm/--tpm` so high that nothing is refused: the same
   work, local buckets) and with limits in Redis (`--redis`: one EVALSHA per request);
2. latency one request at a time through one replica, for the same three settings: what the Redis
   round trip adds; and the round trip alone (redis-py's asyncio client, EVALSHA of the gateway's
   script, and PING);
3. overshoot under load: one account limited to `--limit-rpm` requests a minute (then to the tokens of
   that many answers a minute), hammered through 2 replicas for `--seconds` at `--concurrency`
   connections, with local buckets and with Redis. The most a limiter may admit is the limit plus what
   refilled while the run lasted (timed by Redis's clock, as the shared buckets are); overshoot is what
   was admitted beyond that (goal: 0).

    python benchmarks/gateway_replicas.py [--requests 3000] [--concurrency 64] [--seconds 5]

Prints and writes `benchmarks/results/gateway_replicas.json`. Every process's CPU milliseconds per
request are reported: on a machine whose cores the client, the upstream, Redis and the replicas share,
more replicas add no cores, so the throughput is a CPU split.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from gateway_overhead import BODY, RawConnection, cpu_seconds, free_port, wait_up

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HUGE = ["--rpm", "1e9", "--tpm", "1e12"]  # limits that refuse nothing: the buckets' work, no 429s
SETTINGS = {"off": [], "local": HUGE, "redis": HUGE}
CONFIGS = [(replicas, setting) for replicas in (1, 2) for setting in SETTINGS]


def median_of(runs: list[dict[str, Any]], replicas: int, setting: str) -> dict[str, Any]:
    """The medians over the rounds of one configuration."""
    rows = [r for r in runs if (r["replicas"], r["limits"]) == (replicas, setting)]
    out: dict[str, Any] = {"replicas": replicas, "limits": setting}
    out["requests_per_s"] = statistics.median(r["requests_per_s"] for r in rows)
    out["requests_per_s_all"] = [r["requests_per_s"] for r in rows]
    for name in ("gateways", "redis"):
        out[f"{name}_cpu_ms_per_request"] = round(
            statistics.median(r["cpu_ms_per_request"][name] for r in rows), 3
        )
    if replicas == 1:
        out["one_at_a_time_p50_ms"] = round(statistics.median(r["one_at_a_time"]["p50_ms"] for r in rows), 3)
    return out


@contextmanager
def process(cmd: list[str], url: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if url is not None:
            wait_up(url, proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def redis_server(root: Path) -> Iterator[tuple[str, int]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (Debian: apt-get install redis-server)")
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with process(cmd + ["--dir", str(root)]) as proc:
        import redis

        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0", proc.pid


@contextmanager
def gateways(n: int, upstream: str, db: Path, flags: list[str]) -> Iterator[tuple[list[str], list[int]]]:
    with ExitStack() as stack:
        urls, pids = [], []
        for _ in range(n):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            serve = ["serve", "--upstream", upstream + "/v1", "--db", str(db), "--port", str(port), *flags]
            proc = stack.enter_context(process([sys.executable, "-m", "distillab.cli.main", *serve], url))
            urls.append(url)
            pids.append(proc.pid)
        yield urls, pids


def request_bytes(url: str, key: str, body: dict[str, Any]) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def connect(urls: list[str], keys: list[str], n: int, body: dict[str, Any]) -> list[Any]:
    """``n`` connections, the i-th to replica i mod R with key i mod K: (connection, its request)."""
    loop = asyncio.get_running_loop()
    conns = []
    for i in range(n):
        url, key = urls[i % len(urls)], keys[i % len(keys)]
        host, port = url.removeprefix("http://").split(":")
        _, conn = await loop.create_connection(RawConnection, host, int(port))
        conns.append((conn, request_bytes(url, key, body)))
    return conns


def cut(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100)[q - 1], 3)


async def one_at_a_time(url: str, key: str, n: int) -> dict[str, float]:
    [(conn, request)] = await connect([url], [key], 1, BODY)
    times = []
    for i in range(n + 50):  # 50 to warm up
        started = time.perf_counter()
        if await conn.send(request) != 200:
            raise RuntimeError(f"{url} refused a request")
        if i >= 50:
            times.append(1000 * (time.perf_counter() - started))
    conn.transport.close()
    return {"p50_ms": cut(times, 50), "p99_ms": cut(times, 99)}


async def loaded(
    urls: list[str], keys: list[str], n: int, concurrency: int, pids: list[int]
) -> dict[str, Any]:
    conns = await connect(urls, keys, concurrency, BODY)
    for conn, request in conns:  # every connection open and warm
        await conn.send(request)
    remaining = n
    times: list[float] = []

    async def worker(conn: RawConnection, request: bytes) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            if await conn.send(request) != 200:
                raise RuntimeError("a request was refused")
            times.append(1000 * (time.perf_counter() - started))

    cpu = [cpu_seconds(pid) for pid in pids]
    started = time.perf_counter()
    await asyncio.gather(*(worker(conn, request) for conn, request in conns))
    wall = time.perf_counter() - started
    cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu)]
    for conn, _ in conns:
        conn.transport.close()
    return {
        "requests_per_s": round(n / wall, 1),
        "p50_ms": cut(times, 50),
        "p99_ms": cut(times, 99),
        "cpu_ms_per_request": [round(1000 * c / n, 3) for c in cpu],
    }


async def hammer(
    urls: list[str], key: str, seconds: float, concurrency: int, body: dict[str, Any]
) -> dict[str, int]:
    """Send as fast as answers come for ``seconds``; count the answers by status."""
    conns = await connect(urls, [key], concurrency, body)
    counts: dict[int, int] = {}
    stop = time.perf_counter() + seconds

    async def worker(conn: RawConnection, request: bytes) -> None:
        while time.perf_counter() < stop:
            status = await conn.send(request)
            counts[status] = counts.get(status, 0) + 1

    await asyncio.gather(*(worker(conn, request) for conn, request in conns))
    for conn, _ in conns:
        conn.transport.close()
    return counts


async def redis_round_trip(url: str, n: int) -> dict[str, float]:
    """What an admission through Redis costs the gateway, timed in this process through its own code
    (`RedisBuckets.take`): latency and CPU per call one at a time, CPU per call with 64 in flight (they
    share pipelines); and a bare PING for comparison."""
    import redis.asyncio as aioredis

    from distillab.gateway.buckets import Rates
    from distillab.gateway.metrics import Metrics
    from distillab.gateway.redis_buckets import RedisBuckets

    buckets = RedisBuckets(url, on_failure="open", replicas=1, metrics=Metrics())
    await buckets.start()
    rates = Rates(1e9, 1e12)
    out: dict[str, float] = {}
    for _ in range(200):
        await buckets.take("allow:rtt", rates, 100)
    times = []
    cpu = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        await buckets.take("allow:rtt", rates, 100)
        times.append(1000 * (time.perf_counter() - started))
    out["take_cpu_ms_per_call"] = round(1000 * (time.process_time() - cpu) / n, 3)
    out["take_p50_ms"], out["take_p99_ms"] = cut(times, 50), cut(times, 99)
    cpu = time.process_time()
    for _ in range(n // 64):
        await asyncio.gather(*(buckets.take(f"allow:rtt-{i}", rates, 100) for i in range(64)))
    out["take_64_in_flight_cpu_ms_per_call"] = round(1000 * (time.process_time() - cpu) / (n // 64 * 64), 3)
    await buckets.aclose()
    client = aioredis.Redis.from_url(url)
    times = []
    for i in range(n + 100):
        started = time.perf_counter()
        await client.ping()
        if i >= 100:
            times.append(1000 * (time.perf_counter() - started))
    out["ping_p50_ms"] = cut(times, 50)
    await client.aclose()
    return out


def redis_seconds(url: str) -> float:
    import redis

    with redis.Redis.from_url(url) as client:
        seconds, micros = client.time()
    return float(seconds) + micros / 1e6


def run(coro: Any) -> Any:
    try:
        import uvloop  # the client's own overhead is not what is measured: keep it low

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="throughput runs per configuration")
    parser.add_argument(
        "--warmup", type=int, default=3000, help="requests through a first gateway, unmeasured"
    )
    parser.add_argument("--sequential", type=int, default=500, help="requests one at a time, per setting")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--accounts", type=int, default=16, help="accounts (keys) the throughput runs use")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each overshoot run")
    parser.add_argument("--limit-rpm", type=float, default=300.0, help="the overshoot runs' limit")
    parser.add_argument("--gateway-args", default="", help="extra `distillab serve` flags, space-separated")
    parser.add_argument("--out", type=Path, default=RESULTS / "gateway_replicas.json")
    args = parser.parse_args()
    extra = args.gateway_args.split()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on the way out
    from distillab.db.store import Store

    result: dict[str, Any] = {
        "benchmark": "gateway_replicas",
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        redis_url, redis_pid = stack.enter_context(redis_server(tmp))
        up_port = free_port()
        upstream = f"http://127.0.0.1:{up_port}"
        fake = [
            sys.executable,
            str(ROOT / "tests/data/fake_openai.py"),
            str(up_port),
            "--tokens",
            "16",
            "--canned",
        ]
        up_pid = stack.enter_context(process(fake, upstream)).pid
        result["redis_round_trip"] = run(redis_round_trip(redis_url, 2000))

        # 1 and 2: throughput and latency, limits off / local / in Redis
        db = tmp / "gateway.db"
        with Store(str(db)) as store:
            keys = [store.create_key(f"bench-{i}")[1] for i in range(args.accounts)]
        # A fresh SQLite log commits slowly until its write-ahead log has grown to its working size (each
        # commit extends the file): without this warm-up the first setting measured paid for it.
        with gateways(1, upstream, db, extra) as (urls, pids):
            run(loaded(urls, keys, args.warmup, args.concurrency, pids))
        runs = []
        for round_ in range(args.rounds):  # settings alternate, so a busy spell on the machine hits all
            for replicas, setting in CONFIGS:
                flags = SETTINGS[setting] + (["--redis", redis_url] if setting == "redis" else []) + extra
                with gateways(replicas, upstream, db, flags) as (urls, pids):
                    row: dict[str, Any] = {"round": round_, "replicas": replicas, "limits": setting}
                    if replicas == 1:
                        row["one_at_a_time"] = run(one_at_a_time(urls[0], keys[0], args.sequential))
                    measured = run(
                        loaded(urls, keys, args.requests, args.concurrency, [*pids, up_pid, redis_pid])
                    )
                    cpu = measured.pop("cpu_ms_per_request")
                    row.update(measured)
                    row["cpu_ms_per_request"] = {
                        "gateways": round(sum(cpu[:replicas]), 3),
                        "upstream": cpu[replicas],
                        "redis": cpu[replicas + 1],
                    }
                runs.append(row)
                print(json.dumps(row), flush=True)
        result["runs"] = runs
        result["median"] = summary = [median_of(runs, replicas, setting) for replicas, setting in CONFIGS]
        single = {row["limits"]: row["one_at_a_time_p50_ms"] for row in summary if row["replicas"] == 1}
        result["redis_added_p50_ms"] = round(single["redis"] - single["local"], 3)

        # 3: overshoot under load, 2 replicas, requests then tokens
        limit = args.limit_rpm
        answer = httpx.post(upstream + "/v1/chat/completions", json={**BODY, "max_tokens": 32}).json()
        used = answer["usage"]["prompt_tokens"] + answer["usage"]["completion_tokens"]  # after settling
        overshoot = []
        for kind, flags, body, per_request in (
            ("rpm", ["--rpm", str(limit)], BODY, 1),
            ("tpm", ["--tpm", str(limit * used)], {**BODY, "max_tokens": 32}, used),
        ):
            for setting in ("local", "redis"):
                with Store(str(db)) as store:
                    _, key = store.create_key(f"limited-{kind}-{setting}")
                shared = ["--redis", redis_url] if setting == "redis" else []
                with gateways(2, upstream, db, flags + shared + extra) as (urls, _):
                    started = redis_seconds(redis_url)
                    counts = run(hammer(urls, key, args.seconds, args.concurrency, body))
                    elapsed = redis_seconds(redis_url) - started
                admitted = counts.get(200, 0) * per_request
                allowed = limit * per_request * (1 + elapsed / 60)
                row = {
                    "limit": kind,
                    "buckets": setting,
                    "replicas": 2,
                    "limit_per_minute": limit * per_request,
                    "seconds": round(elapsed, 3),
                    "answers": {str(k): v for k, v in sorted(counts.items())},
                    "admitted": admitted,
                    "allowed": math.floor(allowed),
                    "overshoot": max(0, admitted - math.floor(allowed)),
                }
                overshoot.append(row)
                print(json.dumps(row), flush=True)
        result["overshoot"] = overshoot
    result["goal"] = (
        "overshoot 0 with Redis; keep the lead of `serve --upstream --db` (1,280 req/s, gateway_overhead)"
    )
    result["cpus"] = os.cpu_count()
    result["load"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
