"""Benchmark: build the arith toy teacher from nothing and check the issue's goal (>= 90% in ~5 min).

Runs the real build with no cache at all (a fresh, empty DISTILLAB_CACHE, so the stdlib text and the
tokenizer are rebuilt too), then prints and writes `benchmarks/results/toy_teacher.json`: wall seconds,
steps, parameters, test accuracy, and the machine's CPU count and load, since wall time on a shared
machine depends on what else runs.

    python benchmarks/toy_teacher.py                 # the default arith teacher
    python benchmarks/toy_teacher.py --task mix      # any `distillab toy teacher` preset
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (as in the CLI); must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arith")
    parser.add_argument("--size", default="small")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "toy_teacher.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DISTILLAB_CACHE"] = str(Path(tmp) / "cache")  # cold: nothing reused from earlier runs
        from distillab.toy.config import TeacherConfig
        from distillab.toy.train_teacher import train_teacher

        config = TeacherConfig(task=args.task, size=args.size, steps=args.steps, seed=args.seed)
        load_before = os.getloadavg()
        started, cpu_started = time.monotonic(), time.process_time()
        info = train_teacher(config, Path(tmp) / "teacher")
        wall, cpu = time.monotonic() - started, time.process_time() - cpu_started

    result = {
        "benchmark": "toy_teacher",
        "task": config.task,
        "size": config.size,
        "seed": config.seed,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "train_seconds": info["train_seconds"],
        "steps": info["steps_done"],
        "batch_size": config.batch_size,
        "parameters": info["parameters"],
        "arith_accuracy": info.get("arith_accuracy"),
        "arith_test_problems": config.eval_size,
        "text_loss": info.get("text_loss"),
        "final_loss": round(info["final_loss"], 4),
        "goal": "arith_accuracy >= 0.90 within ~300 s on 2 CPU cores",
        "cpus": len(os.sched_getaffinity(0)),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "machine": platform.processor() or platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
