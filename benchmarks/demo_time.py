"""Benchmark: wall time of `distillab demo`, cold (empty tiny-world cache) and warm (teacher cached).

Runs the real command twice in subprocesses, each into a new output directory: first with an empty
DISTILLAB_CACHE (builds the stdlib text, tokenizer and teacher), then again with that cache (the teacher
is reused; the harvest, training and evaluation run again). Prints and writes
`benchmarks/results/demo_time.json`: seconds for each, and the student's accuracy and share of the
teacher's accuracy from the warm run's summary. Goals (issue 4): cold < 10 min, warm < 5 min on 2 cores.

    python benchmarks/demo_time.py
    python benchmarks/demo_time.py --warm-only     # reuse your own cache; one run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def run_demo(out: Path, cache: Path | None) -> tuple[float, dict]:
    env = dict(os.environ)
    if cache is not None:
        env["DISTILLAB_CACHE"] = str(cache)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "distillab.cli.main", "demo", "--out", str(out)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started, json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-only", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "demo_time.json")
    args = parser.parse_args()
    result: dict = {"benchmark": "demo_time", "cpus": len(os.sched_getaffinity(0)),
                    "load_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = None if args.warm_only else tmp / "cache"
        if not args.warm_only:
            result["cold_seconds"], cold = run_demo(tmp / "cold", cache)
            print(f"cold: {result['cold_seconds']:.0f}s", flush=True)
        result["warm_seconds"], summary = run_demo(tmp / "warm", cache)
        print(f"warm: {result['warm_seconds']:.0f}s", flush=True)
    teacher, student = summary["teacher_accuracy"], summary["student_accuracy"]
    result.update({
        "goal": "cold < 600 s, warm < 300 s on 2 CPU cores",
        "teacher_queries": summary["teacher_queries"], "teacher_accuracy": teacher, "student_accuracy": student,
        "student_share_of_teacher_accuracy": student / teacher if teacher else None,
        "untrained_student_accuracy": summary["untrained_student_accuracy"],
        "student_token_agreement": summary["student_token_agreement"],
        "untrained_student_token_agreement": summary["untrained_student_token_agreement"],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
