"""Prompt sets for real: the whole standard library, then Magpie and self-instruct with a real teacher.

    python benchmarks/prompt_synthesis.py --teacher SmolLM2-135M-Instruct.Q4_1.gguf \
        [--magpie 64] [--self-instruct 32] [--max-tokens 96] [--threads 1] [--out runs/bench-prompts]

Runs `distillab prompts stdlib` over every public module, then `prompts synthesize` (Magpie, and
self-instruct from the seeds below) with the teacher in-process on CPU, each with --language en and the
default near-duplicate threshold, then `prompts filter` over all three sets together. Reported: prompts
built and kept per step and why the others were dropped; for synthesis, teacher samples per minute of
harvest wall time (loading the model excluded) and kept prompts per minute. Numbers measured on SmolLM2
from its GGUF describe a dequantized 4-bit copy, not the upstream model. Writes
benchmarks/results/prompt_synthesis.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from distillab.data.promptgen.config import FilterConfig, StdlibConfig, SynthesizeConfig
from distillab.data.promptgen.filtering import run_filter
from distillab.data.promptgen.stdlib import run_stdlib
from distillab.data.promptgen.synthesize import run_synthesis

SEEDS = [
    "How do I reverse a string in Python?",
    "Write a short poem about the sea.",
    "What are the health benefits of green tea?",
    "Explain the difference between weather and climate.",
    "Give me three tips for a job interview.",
    "What is the capital of Australia?",
    "Summarize the plot of Romeo and Juliet in two sentences.",
    "How can I make my bread rise more?",
    "Translate 'good morning' into Spanish and French.",
    "Why do cats purr?",
    "Write an email asking my landlord to fix the heating.",
    "What is a prime number? Give three examples.",
    "How do vaccines work?",
    "Suggest a name for a coffee shop by the beach.",
    "What should I pack for a weekend hiking trip?",
    "Explain what a database index is.",
]


def _synthesis(config: SynthesizeConfig) -> dict[str, Any]:
    started = time.monotonic()
    result = run_synthesis(config)
    minutes = result.seconds / 60
    return {
        "count": config.count,
        "kept": result.kept,
        "dropped": result.dropped,
        "harvest_seconds": round(result.seconds, 1),
        "total_seconds": round(time.monotonic() - started, 1),
        "samples_per_minute": round(result.harvest.new_records / minutes, 2),
        "kept_per_minute": round(result.kept / minutes, 2),
        "completion_tokens": result.harvest.completion_tokens,
        "examples": [r["messages"][0]["content"] for r in _rows(config.out)[:5]],
    }


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "prompts.jsonl").read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teacher", required=True, help="A model directory or .gguf file.")
    parser.add_argument("--magpie", type=int, default=64, help="Magpie samples to ask for.")
    parser.add_argument("--self-instruct", type=int, default=32, help="Self-instruct requests.")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-prompts"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)

    started = time.monotonic()
    stdlib = run_stdlib(StdlibConfig(out=args.out / "stdlib", language="en"))
    stdlib_seconds = time.monotonic() - started
    print(f"stdlib: {stdlib.describe()} in {stdlib_seconds:.1f}s")

    common: dict[str, Any] = {
        "teacher": args.teacher,
        "max_tokens": args.max_tokens,
        "seed": 0,
        "language": "en",
        "progress": False,
        "terms": "SmolLM2-135M-Instruct is Apache-2.0",
    }
    magpie = _synthesis(
        SynthesizeConfig(method="magpie", count=args.magpie, out=args.out / "magpie", **common)
    )
    print(f"magpie: {json.dumps(magpie, indent=1)}")
    seeds = args.out / "seeds.jsonl"
    seeds.write_text(
        "".join(json.dumps({"id": f"seed-{i}", "prompt": s}) + "\n" for i, s in enumerate(SEEDS))
    )
    instruct = _synthesis(
        SynthesizeConfig(
            method="self-instruct",
            seeds=seeds,
            count=args.self_instruct,
            out=args.out / "self-instruct",
            **common,
        )
    )
    print(f"self-instruct: {json.dumps(instruct, indent=1)}")
    merged = run_filter(
        FilterConfig(
            prompts=tuple(
                args.out / name / "prompts.jsonl" for name in ("stdlib", "magpie", "self-instruct")
            ),
            out=args.out / "all",
        )
    )
    print(f"all: {merged.describe()}")

    result = {
        "teacher": args.teacher,
        "note": "SmolLM2 from its GGUF is a dequantized 4-bit copy, not the upstream model",
        "machine": {"cpus": os.cpu_count(), "threads": args.threads, "load_average": os.getloadavg()},
        "max_tokens": args.max_tokens,
        "stdlib": {
            "candidates": stdlib.candidates,
            "kept": stdlib.kept,
            "dropped": stdlib.dropped,
            "seconds": round(stdlib_seconds, 1),
            "modules_read": stdlib.manifest["modules"]["read"],
        },
        "magpie": magpie,
        "self_instruct": instruct,
        "merged": {"candidates": merged.candidates, "kept": merged.kept, "dropped": merged.dropped},
    }
    path = Path(__file__).parent / "results" / "prompt_synthesis.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
