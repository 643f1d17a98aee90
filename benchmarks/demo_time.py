"""Wall time of `distillab demo` (the contest), cold (empty tiny-world cache) and warm (world cached).

Runs the real command twice in subprocesses, each into a new output directory: first with an empty
DISTILLAB_CACHE (builds the stdlib text, tokenizer, teacher and the contest world: honest reference
traffic, control and bystander students), then again with that cache (the world is reused; every round
runs again: gateway traffic, students, detection, proof). Prints and writes
`benchmarks/results/demo_time.json`: seconds for each and the warm run's headline numbers. Goals (issue 8):
cold < 15 min (with the install), warm < 8 min on 2 cores.

    python benchmarks/demo_time.py
    python benchmarks/demo_time.py --warm-only     # reuse your own cache; one run
    python benchmarks/demo_time.py --world smollm2 --warm-only   # the real world (issue 17: < 30 min warm)

With `--world smollm2` the teacher is the GGUF `make real-model` put in your cache, in both runs; the result
goes to `benchmarks/results/demo_time_smollm2.json`.
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


def run_demo(out: Path, cache: Path | None, world: str) -> tuple[float, dict]:
    from distillab.demo.config import real_model_path

    extra = ["--world", world] + (["--real-model", str(real_model_path())] if world != "tiny" else [])
    env = dict(os.environ)
    if cache is not None:
        env["DISTILLAB_CACHE"] = str(cache)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "distillab.cli.main", "demo", "--out", str(out), *extra],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started, json.loads((out / "summary.json").read_text())


def short(name: str) -> str:
    """A test's name with each model path cut to its last part."""
    kind, _, models = name.partition(": ")
    return kind + (": " + " vs ".join(Path(m).name for m in models.split(" vs ")) if models else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-only", action="store_true")
    parser.add_argument("--world", choices=("tiny", "smollm2"), default="tiny")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.out = args.out or RESULTS / (
        "demo_time.json" if args.world == "tiny" else f"demo_time_{args.world}.json"
    )
    result: dict = {
        "benchmark": "demo_time",
        "world": args.world,
        "cpus": len(os.sched_getaffinity(0)),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = None if args.warm_only else tmp / "cache"
        if not args.warm_only:
            result["cold_seconds"], _ = run_demo(tmp / "cold", cache, args.world)
            print(f"cold: {result['cold_seconds']:.0f}s", flush=True)
        result["warm_seconds"], summary = run_demo(tmp / "warm", cache, args.world)
        print(f"warm: {result['warm_seconds']:.0f}s", flush=True)
    rounds = {
        name: {
            "student_score": r["student_score"],
            "answers_kept": r["campaign"]["answered"],
            "degraded": r["campaign"]["degraded"],
            "flagged_live": sum(f["campaign"] for f in r["flags"]),
            "honest_flagged_live": sum(not f["campaign"] for f in r["flags"]),
            "offline_recall": (r["detect"].get("metrics") or {}).get("recall"),
            "p_values": {
                short(t["name"]): t["p_value"]
                for t in r["proof"]["radioactivity"]
                + r["proof"].get("membership", [])
                + r["proof"]["attribution"]
            },
        }
        for name, r in summary["rounds"].items()
    }
    control = summary["control"]["proof"]
    result.update(
        {
            "goal": "cold < 900 s, warm < 480 s on 2 CPU cores"
            if args.world == "tiny"
            else "warm < 1800 s on 2 CPU cores",
            "metric": summary["metric"],
            "teacher_score": summary["teacher"]["score"],
            "control_score": summary["control"]["score"],
            "untrained_score": summary["untrained_student_score"],
            "rounds": rounds,
            "control_p_values": {
                short(t["name"]): t["p_value"]
                for t in control["radioactivity"] + control.get("membership", []) + control["attribution"]
            },
            "load_after": [round(x, 2) for x in os.getloadavg()],
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
