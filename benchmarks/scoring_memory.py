"""Benchmark: peak memory and time of open-mode radioactivity scoring with a real-sized vocabulary, with
the logits budget (`distillab.logit_batches`, the default) and without it (every `--batch-size` rows in one
pass, as before the budget).

A random Llama-style model with a 151,936-token vocabulary (Qwen2's) and a small body reads `--texts`
random sequences of `--length` tokens at `--batch-size` rows, with and without a reference model; each
setting runs in a fresh process, and its peak resident memory (ru_maxrss) is reported. Writes
benchmarks/results/scoring_memory.json.

    python benchmarks/scoring_memory.py [--texts 16] [--length 512] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VOCAB = 151_936


def one(budget: str, reference: bool, texts: int, length: int, batch_size: int) -> dict[str, float]:
    """Run in this (fresh) process: build the models, score, report peak memory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from distillab.provenance import radioactivity

    torch.set_num_threads(os.cpu_count() or 1)
    if budget == "none":
        radioactivity.LOGITS_BUDGET = 1 << 50  # every batch in one pass
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=length,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    other = LlamaForCausalLM(config).eval() if reference else None
    sequences = torch.randint(0, VOCAB, (texts, length)).tolist()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    _, tokens = radioactivity.suspect_predictions(
        model, sequences, 1, batch_size=batch_size, max_length=length, reference=other
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "peak_rss_mb": round(peak),
        "rss_before_scoring_mb": round(before),
        "seconds": round(seconds, 2),
        "pairs": int(len(tokens)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=16)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--one", nargs=2, metavar=("BUDGET", "REFERENCE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "scoring_memory.json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1] == "yes", args.texts, args.length, args.batch_size)))
        return
    runs = []
    for reference in ("no", "yes"):
        for budget in ("default", "none"):
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    budget,
                    reference,
                    "--texts",
                    str(args.texts),
                    "--length",
                    str(args.length),
                    "--batch-size",
                    str(args.batch_size),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            run = {
                "budget": budget,
                "reference": reference == "yes",
                **json.loads(done.stdout.splitlines()[-1]),
            }
            print(json.dumps(run), flush=True)
            runs.append(run)
    result = {
        "benchmark": "scoring_memory",
        "vocab": VOCAB,
        "texts": args.texts,
        "length": args.length,
        "batch_size": args.batch_size,
        "runs": runs,
        "cpus": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
