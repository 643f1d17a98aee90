"""What the watermark costs: perplexity of watermarked vs plain text under the (unwatermarked) teacher.

    python benchmarks/watermark_quality.py [--quick] [--teacher DIR] [--deltas 0,0.5,1,2,4] [--device auto]

The cached toy text teacher (``distillab toy teacher --task text``; built first if the cache has none)
answers held-out paragraph-continuation prompts through the serving engine, once per setting: plain
(delta 0) and watermarked with each delta (lefthash, and selfhash at delta 2). For each setting: the
perplexity of the answers under the plain teacher (teacher forcing; lower is closer to what the teacher
would write unmarked), the green share and the pooled detection p-value of the answers, and the
generation throughput (the cost of computing green lists while serving). Every setting samples the same
prompts with the same seeds.

Writes benchmarks/results/watermark_quality.json (``--quick``: watermark_quality_quick.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MASTER = b"watermark-quality-benchmark-master"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 prompts, deltas 0 and 2")
    parser.add_argument("--teacher", help="teacher directory (default: the cached toy text teacher)")
    parser.add_argument("--deltas", default="0,0.5,1,2,4")
    parser.add_argument("--gamma", type=float, default=0.25)
    parser.add_argument("--context", type=int, default=1)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.deltas = 60, "0,2"
    torch.set_num_threads(args.threads)

    from distillab.models.generate import Engine, EngineRequest
    from distillab.provenance.config import WatermarkConfig
    from distillab.provenance.detect import detect
    from distillab.provenance.keys import derive
    from distillab.provenance.watermark import Watermark
    from distillab.teacher.base import SamplingParams
    from distillab.toy.config import TeacherConfig
    from distillab.toy.text import passages
    from distillab.toy.train_teacher import toy_teacher

    started = time.monotonic()
    teacher = Path(args.teacher) if args.teacher else toy_teacher(TeacherConfig(task="text"))
    engine = Engine.load(teacher, device=args.device)
    prompts = [
        engine.encode_chat([{"role": "user", "content": p.prompt}]) for p in passages("test", args.prompts)
    ]
    settings = [("lefthash", float(d)) for d in args.deltas.split(",")]
    if not args.quick:
        settings.append(("selfhash", 2.0))
    rows: list[dict[str, Any]] = []

    for scheme, delta in settings:
        config = WatermarkConfig(
            scheme=scheme,
            context=args.context if scheme == "lefthash" else max(args.context, 2),
            gamma=args.gamma,
            delta=delta,
        )
        mark = Watermark(config, derive(MASTER)) if delta > 0 else None
        scorer = mark or Watermark(config, derive(MASTER))
        t0 = time.monotonic()
        completions: list[list[int]] = []
        for start in range(0, len(prompts), args.batch):
            requests = [
                EngineRequest(
                    p,
                    SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens, seed=start + i),
                    processor=mark,
                )
                for i, p in enumerate(prompts[start : start + args.batch])
            ]
            completions += [s.token_ids or [] for g in engine.generate(requests) for s in g.samples]
        seconds = time.monotonic() - t0
        nll, count = 0.0, 0
        for prompt, ids in zip(prompts, completions):
            if not ids:
                continue
            logits = engine.logits(torch.tensor([prompt + ids]))[0, len(prompt) - 1 : -1]
            nll -= float(
                torch.log_softmax(logits, -1)
                .gather(-1, torch.tensor(ids, device=logits.device)[:, None])
                .sum()
            )
            count += len(ids)
        detection = detect(completions, scorer)
        row = {
            "scheme": scheme,
            "context": config.context,
            "gamma": args.gamma,
            "delta": delta,
            "perplexity": math.exp(nll / max(count, 1)),
            "tokens": count,
            "tokens_per_second": round(count / seconds, 1),
            "green_fraction": detection.effect["green_fraction"],
            "z": detection.effect["z"],
            "p_value": detection.p_value,
            "log10_p": detection.effect["log10_p"],
        }
        rows.append(row)
        print(
            f"{scheme:>8} h={config.context} delta {delta:>4g}: perplexity {row['perplexity']:7.2f}  green "
            f"{row['green_fraction']:.3f}  log10 p {row['log10_p']:8.1f}  "
            f"{row['tokens_per_second']:.0f} tok/s",
            flush=True,
        )

    path = RESULTS / ("watermark_quality_quick.json" if args.quick else "watermark_quality.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "benchmark": "watermark_quality",
                "quick": args.quick,
                "teacher": str(teacher),
                "prompts": len(prompts),
                "max_tokens": args.max_tokens,
                "temperature": args.temperature,
                "rows": rows,
                "seconds": round(time.monotonic() - started, 1),
                "threads": args.threads,
                "cpus": os.cpu_count(),
                "machine": platform.machine(),
                "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                "command": " ".join(["python benchmarks/watermark_quality.py", *sys.argv[1:]]),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
