"""Benchmark: what the gateway adds to a request (key check, admission, forwarding, durable log write).

A fast loopback upstream (tests/data/fake_openai.py, its own process, canned 16-token answers, no
model) is measured directly and through `distillab serve --upstream ... --db` (its own process, SQLite
request log in WAL mode with synchronous=FULL, one account key), with the same client: first one
request at a time (added latency p50/p99), then `--concurrency` connections at once (latency and
throughput). Prints and writes `benchmarks/results/gateway_overhead.json`.
Goals (issue 5): at most 2 ms added p50, at least 0.8x the direct throughput at 64 connections.

    python benchmarks/gateway_overhead.py [--requests 2000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BODY = {"model": "fake", "messages": [{"role": "user", "content": "Ann has 3 pens. She gets 4 more."}],
        "max_tokens": 16}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url + "/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


async def measure(url: str, key: str, n: int, concurrency: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60,
                                 limits=limits) as client:
        async def one() -> float:
            started = time.perf_counter()
            (await client.post("/v1/chat/completions", json=BODY)).raise_for_status()
            return 1000 * (time.perf_counter() - started)

        for _ in range(20):  # warm-up
            await one()
        sequential = [await one() for _ in range(min(n, 500))]
        gate = asyncio.Semaphore(concurrency)

        async def gated() -> float:
            async with gate:
                return await one()

        started = time.perf_counter()
        loaded = await asyncio.gather(*(gated() for _ in range(n)))
        wall = time.perf_counter() - started

    def cuts(values: list[float]) -> list[float]:
        return statistics.quantiles(values, n=100)

    return {"sequential_p50_ms": round(cuts(sequential)[49], 3), "sequential_p99_ms": round(cuts(sequential)[98], 3),
            "loaded_p50_ms": round(cuts(list(loaded))[49], 3), "loaded_p99_ms": round(cuts(list(loaded))[98], 3),
            "requests_per_s": round(n / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS / "gateway_overhead.json")
    args = parser.parse_args()

    from distillab.gateway.store import Store

    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        db = Path(tmp_name) / "gateway.db"
        with Store(str(db)) as store:
            _, key = store.create_key("bench")
        try:
            up_port, gw_port = free_port(), free_port()
            procs.append(subprocess.Popen([sys.executable, str(ROOT / "tests/data/fake_openai.py"), str(up_port),
                                           "--tokens", "16", "--canned"], stdout=subprocess.DEVNULL))
            upstream = f"http://127.0.0.1:{up_port}"
            wait_up(upstream, procs[-1])
            procs.append(subprocess.Popen([sys.executable, "-m", "distillab.cli.main", "serve", "--upstream",
                                           upstream + "/v1", "--db", str(db), "--port", str(gw_port)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            gateway = f"http://127.0.0.1:{gw_port}"
            wait_up(gateway, procs[-1])
            direct = asyncio.run(measure(upstream, "unused", args.requests, args.concurrency))
            through = asyncio.run(measure(gateway, key, args.requests, args.concurrency))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
        with Store(str(db)) as store:
            logged = sum(1 for _ in store.iter_logs(account="bench"))
    result = {
        "benchmark": "gateway_overhead", "requests": args.requests, "concurrency": args.concurrency,
        "direct": direct, "gateway": through,
        "added_p50_ms": round(through["sequential_p50_ms"] - direct["sequential_p50_ms"], 3),
        "added_p99_ms": round(through["sequential_p99_ms"] - direct["sequential_p99_ms"], 3),
        "throughput_ratio": round(through["requests_per_s"] / direct["requests_per_s"], 3),
        "logged_records": logged, "goal": "added p50 <= 2 ms, throughput ratio >= 0.8 at 64 connections",
        "cpus": len(os.sched_getaffinity(0)), "load": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
