r"""Does dynamic batching pay? Requests/s of `distillab serve` for sequential vs concurrent clients.

Builds a tiny random Llama model in-process (no downloads), serves it on a loopback port, and sends the
same chat requests one at a time and then from C concurrent clients (AsyncOpenAI). Prints a table and
writes JSON.

    python benchmarks/serve_batching.py --requests 64 --concurrency 16 \
        --out benchmarks/results/serve_batching.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import openai
import torch

from distillab.models import Engine
from distillab.serving import create_app, run_in_background
from distillab.toy.models import ModelSize, build_model
from distillab.toy.tokenizer import build_tokenizer


def tiny_model_dir(out: Path, layers: int, dim: int) -> Path:
    corpus = [
        f"Ann has {a} pens. She gets {b} more. {a} + {b} = {a + b}." for a in range(30) for b in range(30)
    ]
    tokenizer = build_tokenizer(corpus, vocab_size=400)
    build_model(tokenizer, ModelSize(layers=layers, dim=dim, heads=4, max_positions=512)).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


async def run_clients(
    base_url: str, prompts: list[str], concurrency: int, max_tokens: int
) -> tuple[float, int]:
    client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)
    gate = asyncio.Semaphore(concurrency)
    tokens = 0

    async def one(i: int, prompt: str) -> None:
        nonlocal tokens
        async with gate:
            reply = await client.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, seed=i
            )
            tokens += reply.usage.completion_tokens if reply.usage else 0

    start = time.perf_counter()
    await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts)))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed, tokens


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_batching.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    prompts = [f"Ann has {i % 17} pens. She gets {i % 5} more. How many?" for i in range(args.requests)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.load(tiny_model_dir(Path(tmp), args.layers, args.dim), device="cpu")
        app = create_app(engine, model_name="tiny", max_batch=args.concurrency)
        with run_in_background(app) as base_url:
            asyncio.run(run_clients(base_url, prompts[:4], 1, args.max_tokens))  # warm-up
            batches_before = len(app.state.serving.batcher.batch_sizes)
            seq_s, seq_tokens = asyncio.run(run_clients(base_url, prompts, 1, args.max_tokens))
            batches_mid = len(app.state.serving.batcher.batch_sizes)
            con_s, con_tokens = asyncio.run(run_clients(base_url, prompts, args.concurrency, args.max_tokens))
            sizes = app.state.serving.batcher.batch_sizes[batches_mid:]
    result = {
        "benchmark": "serve_batching",
        "model": {"layers": args.layers, "dim": args.dim, "vocab": 400},
        "requests": args.requests,
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency,
        "sequential": {
            "seconds": seq_s,
            "requests_per_s": args.requests / seq_s,
            "tokens_per_s": seq_tokens / seq_s,
            "batches": batches_mid - batches_before,
        },
        "concurrent": {
            "seconds": con_s,
            "requests_per_s": args.requests / con_s,
            "tokens_per_s": con_tokens / con_s,
            "batches": len(sizes),
            "mean_batch": statistics.mean(sizes) if sizes else 0,
        },
        "speedup": seq_s / con_s,
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
    }
    print(
        f"sequential: {result['sequential']['requests_per_s']:.1f} req/s, "
        f"{result['sequential']['tokens_per_s']:.0f} tok/s"
    )
    print(
        f"concurrent (C={args.concurrency}): {result['concurrent']['requests_per_s']:.1f} req/s, "
        f"{result['concurrent']['tokens_per_s']:.0f} tok/s, "
        f"mean batch {result['concurrent']['mean_batch']:.1f}"
    )
    print(f"speedup: {result['speedup']:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
