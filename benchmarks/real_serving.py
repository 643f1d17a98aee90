"""`distillab serve` against `transformers serve` on the same real model, prompts and settings.

    python benchmarks/real_serving.py --model SmolLM2-135M-Instruct.Q4_1.gguf [--max-tokens 64] \
        [--concurrency 1 4 16] [--requests 16]

Both servers run on loopback on the same machine, one at a time, CPU only, the model in float32 (a GGUF
file is converted once by `distillab.models`; `transformers serve` is given the converted directory, so
both load the same weights). Each level sends `--requests` chat requests (`--requests-at-1` at
concurrency 1) with temperature 0 and `max_tokens`, through the official `openai` client, `concurrency`
at a time, after one warm-up request. Reported per server and level: completion tokens per second over
the level's wall time, and the median and 90th-percentile request latency. Numbers measured on SmolLM2
from its GGUF describe a dequantized 4-bit copy, not the upstream model.
Writes benchmarks/results/real_serving.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openai import AsyncOpenAI

from distillab.models import model_dir
from distillab.serving.process import UVICORN_ANNOUNCE, announced_server, serve_process

QUESTIONS = [
    "What does the Python function textwrap.dedent do?",
    "Name three uses of a hash table.",
    "Explain what a for loop is.",
    "What is the difference between a list and a tuple in Python?",
    "How do I read a file line by line in Python?",
    "What is recursion? Give a short example.",
    "Why is the sky blue?",
    "What does HTTP status 404 mean?",
]


@contextmanager
def transformers_serve(directory: Path, log: Path) -> Iterator[str]:
    exe = Path(sys.executable).parent / "transformers"
    command = str(exe) if exe.exists() else shutil.which("transformers")
    if command is None:
        raise SystemExit("the `transformers` CLI is not installed (pip install 'transformers[serving]')")
    cmd = [command, "serve", str(directory), "--host", "127.0.0.1", "--port", "0", "--device", "cpu"]
    with announced_server(
        cmd, announce=UVICORN_ANNOUNCE, name="transformers serve", startup_timeout_s=300, log=log,
        env={"HF_HUB_OFFLINE": "1"},
    ) as url:  # fmt: skip
        yield url


async def level(url: str, model: str, concurrency: int, requests: int, max_tokens: int) -> dict[str, float]:
    client = AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    tokens = 0

    async def one(i: int) -> None:
        nonlocal tokens
        async with gate:
            start = time.perf_counter()
            reply = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
                max_tokens=max_tokens,
                temperature=0.0,
            )
            latencies.append(time.perf_counter() - start)
            tokens += reply.usage.completion_tokens if reply.usage else 0

    await one(0)  # warm-up
    latencies.clear()
    tokens = 0
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(requests)))
    wall = time.perf_counter() - start
    await client.close()
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "completion_tokens": tokens,
        "wall_s": round(wall, 2),
        "tokens_per_s": round(tokens / wall, 2),
        "p50_latency_s": round(statistics.median(ordered), 2),
        "p90_latency_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
    }


def measure(url: str, model: str, args: argparse.Namespace) -> list[dict[str, float]]:
    rows = []
    for c in args.concurrency:
        n = args.requests_at_1 if c == 1 else max(args.requests, c)
        row = asyncio.run(level(url, model, c, n, args.max_tokens))
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model directory or GGUF file")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--requests-at-1", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "real_serving.json")
    args = parser.parse_args()
    directory = model_dir(args.model)
    logs = args.out.parent / "real_serving_logs"
    logs.mkdir(parents=True, exist_ok=True)
    print("distillab serve", flush=True)
    with serve_process(args.model, log=logs / "distillab.log", extra_args=("--model-name", "model")) as url:
        ours = measure(url, "model", args)
    print("transformers serve", flush=True)
    with transformers_serve(directory, logs / "transformers.log") as url:
        theirs = measure(url, str(directory), args)
    theirs_by_level = {r["concurrency"]: r["tokens_per_s"] for r in theirs}
    speedup = {
        int(r["concurrency"]): round(r["tokens_per_s"] / theirs_by_level[r["concurrency"]], 2)
        for r in ours
        if theirs_by_level.get(r["concurrency"])
    }
    print(json.dumps({"speedup_tokens_per_s": speedup}))
    result = {
        "model": str(args.model),
        "max_tokens": args.max_tokens,
        "cpus": os.cpu_count(),
        "distillab_serve": ours,
        "transformers_serve": theirs,
        "speedup_tokens_per_s": speedup,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
