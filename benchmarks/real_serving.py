"""`distillab serve` against `transformers serve` on the same real model, prompts and settings.

    python benchmarks/real_serving.py --model SmolLM2-135M-Instruct.Q4_1.gguf [--max-tokens 64] \
        [--concurrency 1 4 16] [--requests 16] [--baseline ../main/src]

Both servers run on loopback on the same machine, CPU only, the model in float32 (a GGUF file is
converted once by `distillab.models`; `transformers serve` is given the converted directory, so both load
the same weights). Both are started first, then measured in turns: each level runs on one server, then on
the other, the first server rotating from level to level, so load from other processes on a shared
machine falls on both alike (an idle server waits on its socket). `--baseline SRC` adds a third server:
`distillab serve` imported from another source tree (say a checkout of main), to measure a change.
Each level sends `--requests` chat requests (`--requests-at-1` at concurrency 1) with temperature 0 and
`max_tokens`, through the official `openai` client, `concurrency` at a time, after one warm-up request.
Reported per server and level: completion tokens per second over the level's wall time, and the median
and 90th-percentile request latency. Numbers measured on SmolLM2 from its GGUF describe a dequantized
4-bit copy, not the upstream model. Writes benchmarks/results/real_serving.json.
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
from contextlib import ExitStack, contextmanager
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
    client = AsyncOpenAI(
        base_url=url, api_key="unused", max_retries=0, timeout=3600
    )  # a busy machine is slow
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


def measure(
    servers: dict[str, tuple[str, str]], args: argparse.Namespace
) -> dict[str, list[dict[str, float]]]:
    """Every level on every server (name -> (url, model)), in turns; the first server rotates."""
    names = list(servers)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for i, c in enumerate(args.concurrency):
        n = args.requests_at_1 if c == 1 else max(args.requests, c)
        for name in names[i % len(names) :] + names[: i % len(names)]:
            url, model = servers[name]
            row = asyncio.run(level(url, model, c, n, args.max_tokens))
            print(json.dumps({"server": name, **row}), flush=True)
            rows[name].append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model directory or GGUF file")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--requests-at-1", type=int, default=4)
    parser.add_argument("--baseline", type=Path, help="also serve distillab from this source tree (src/)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "real_serving.json")
    args = parser.parse_args()
    directory = model_dir(args.model)
    logs = args.out.parent / "real_serving_logs"
    logs.mkdir(parents=True, exist_ok=True)
    named = ("--model-name", "model")
    with ExitStack() as stack:
        ours = serve_process(args.model, log=logs / "distillab.log", extra_args=named)
        theirs = transformers_serve(directory, logs / "transformers.log")
        served = {
            "distillab": (stack.enter_context(ours), "model"),
            "transformers": (stack.enter_context(theirs), str(directory)),
        }
        if args.baseline is not None:
            env = {"PYTHONPATH": str(args.baseline)}
            baseline = serve_process(args.model, log=logs / "baseline.log", extra_args=named, env=env)
            served["distillab_baseline"] = (stack.enter_context(baseline), "model")
        rows = measure(served, args)
    ours_rows, theirs_rows = rows["distillab"], rows["transformers"]
    theirs_by_level = {r["concurrency"]: r["tokens_per_s"] for r in theirs_rows}
    speedup = {
        int(r["concurrency"]): round(r["tokens_per_s"] / theirs_by_level[r["concurrency"]], 2)
        for r in ours_rows
        if theirs_by_level.get(r["concurrency"])
    }
    print(json.dumps({"speedup_tokens_per_s": speedup}))
    result = {
        "model": str(args.model),
        "max_tokens": args.max_tokens,
        "cpus": os.cpu_count(),
        "distillab_serve": ours_rows,
        "transformers_serve": theirs_rows,
        **(
            {"distillab_baseline": rows["distillab_baseline"], "baseline_src": str(args.baseline)}
            if args.baseline
            else {}
        ),
        "speedup_tokens_per_s": speedup,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
