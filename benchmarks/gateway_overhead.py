"""Benchmark: what the gateway adds to a request (key check, admission, forwarding, durable log write).

Serves the same tiny model twice in this process, plain (`create_app`) and behind the gateway (SQLite
store in WAL mode, one account key), and sends the same short chat requests to each, first one at a
time (latency p50/p95), then `--concurrency` at a time (throughput). Prints and writes
`benchmarks/results/gateway_overhead.json`. Goal: overhead small next to generation (a few ms).

    python benchmarks/gateway_overhead.py [--requests 200] [--concurrency 16] [--max-tokens 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

RESULTS = Path(__file__).parent / "results"


async def measure(url: str, key: str, n: int, concurrency: int, max_tokens: int) -> dict[str, float]:
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Ann has 3 pens."}], "max_tokens": max_tokens}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for _ in range(5):  # warm-up
            (await client.post("/chat/completions", json=body)).raise_for_status()
        latencies = []
        for _ in range(n):
            started = time.perf_counter()
            (await client.post("/chat/completions", json=body)).raise_for_status()
            latencies.append(1000 * (time.perf_counter() - started))
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                (await client.post("/chat/completions", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"latency_ms_p50": round(cuts[49], 2), "latency_ms_p95": round(cuts[94], 2),
            "requests_per_s": round(n / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "gateway_overhead.json")
    args = parser.parse_args()

    import torch

    from distillab.gateway.app import create_gateway
    from distillab.gateway.store import Store
    from distillab.serving.app import create_app
    from distillab.serving.background import run_in_background
    from distillab.serving.engine import Engine
    from distillab.toy.models import ModelSize, build_model
    from distillab.toy.train_teacher import tiny_world_tokenizer

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tokenizer = tiny_world_tokenizer(1024)
        build_model(tokenizer, ModelSize(layers=2, dim=64, heads=4, max_positions=256)).save_pretrained(tmp / "m")
        tokenizer.save_pretrained(tmp / "m")
        engine = Engine.load(tmp / "m")
        store = Store(str(tmp / "gateway.db"))
        _, key = store.create_key("bench")
        with run_in_background(create_app(engine, model_name="tiny")) as plain:
            direct = asyncio.run(measure(plain + "/v1", "unused", args.requests, args.concurrency, args.max_tokens))
            with run_in_background(create_gateway(store, plain + "/v1")) as gate:
                gated = asyncio.run(measure(gate + "/v1", key, args.requests, args.concurrency, args.max_tokens))
        logged = sum(1 for _ in store.iter_logs(account="bench"))
        store.close()
    result = {"benchmark": "gateway_overhead", "requests": args.requests, "concurrency": args.concurrency,
              "max_tokens": args.max_tokens, "direct": direct, "gateway": gated,
              "added_latency_ms_p50": round(gated["latency_ms_p50"] - direct["latency_ms_p50"], 2),
              "throughput_ratio": round(gated["requests_per_s"] / direct["requests_per_s"], 3),
              "logged_records": logged, "cpus": len(os.sched_getaffinity(0)),
              "load": [round(x, 2) for x in os.getloadavg()]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
