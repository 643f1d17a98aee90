"""Offline throughput of `distillab detect`: records per second on a large simulated log.

    python benchmarks/detect_throughput.py                       # 2000 accounts x 3 days, Parquet
    python benchmarks/detect_throughput.py --accounts 500 --days 2 --format jsonl
    python benchmarks/detect_throughput.py --accounts 300 --days 2 --embedder minilm --out ...minilm.json
    python benchmarks/detect_throughput.py --accounts 100 --days 1 --reference-accounts 200 --embedder minilm

Simulates an honest reference (1000 accounts by default, 1 day) and a large mixed log, then times:

- `reference`: fitting the embedder and calibrating on the reference (once per reference);
- `stream`: reading the log and updating every account's stats (what grows with the log);
- `detect`: everything `distillab detect --log LOG --reference REF --checkpoint-hours 0` does after
  the reference is prepared (stream, link, score, write the outputs), in process;
- `detect_with_checkpoints`: the same with checkpoints every 2 hours of log time (the default with
  --labels, for queries until flagged).
- `cli`: the whole command as a subprocess, reference and interpreter start included.

Records/s are log records over seconds (goal: >= 50 000/s with lexical features, on 2 cores). With
`--embedder minilm` each account's first 16 prompts and every 64th after are run through
all-MiniLM-L6-v2 on the CPU (each distinct prompt once per process); the prompts it embedded are
reported. Also
reports the per-account array state (sketches and counters; plus small sets of days, hours and
network/agent/org/payment values), to show memory grows with accounts, not requests, and the load
average while it ran and the CPU seconds of each step (all threads of this process: on a shared machine
other work slows the wall clock down far more than it changes the work done). Writes
benchmarks/results/detect_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from distillab.detect import embeddings
from distillab.detect.calibrate import collect, open_log
from distillab.detect.config import DetectConfig
from distillab.detect.features import StatsTable
from distillab.detect.run import prepare_reference, prompt_embedder, run_detect
from distillab.detect.simulate import SimulateConfig, simulate

ROOT = Path(__file__).resolve().parents[1]


def state_bytes(table: StatsTable) -> int:
    """Bytes of the per-account arrays actually used (the capacity beyond len(table) is spare)."""
    arrays = [v for v in vars(table).values() if isinstance(v, np.ndarray)] + list(table.counts.values())
    return sum(a[: len(table)].nbytes for a in arrays)


def embedded(embedder: str) -> int:
    """Prompts run through MiniLM so far in this process (0 for the lexical embeddings)."""
    return embeddings.minilm().embedded if embedder == "minilm" else 0


class Steps:
    """Wall-clock and CPU seconds of named steps (CPU: every thread of this process and of its children,
    so the `cli` subprocess counts too)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @staticmethod
    def _cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        wall, cpu = time.monotonic(), self._cpu()
        yield
        self.wall[name], self.cpu[name] = time.monotonic() - wall, self._cpu() - cpu


def cli(args: list[str]) -> None:
    subprocess.run(
        [str(Path(sys.executable).with_name("distillab")), "detect", *args, "--no-progress"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--reference-accounts", type=int, default=1000)
    parser.add_argument("--format", choices=("parquet", "jsonl"), default="parquet")
    parser.add_argument("--embedder", choices=("lexical", "minilm"), default="lexical")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/detect_throughput.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        reference = work / "reference.parquet"
        simulate(
            SimulateConfig(
                out=reference, seed=11, accounts=args.reference_accounts, days=1.0, attacker_share=0.0
            )
        )
        log = work / f"log.{args.format}"
        made = simulate(SimulateConfig(out=log, seed=12, accounts=args.accounts, days=args.days))
        records = made.records

        steps = Steps()
        with steps.time("reference"):
            prepared = prepare_reference(reference, embedder=args.embedder)
        reference_prompts = embedded(args.embedder)
        embedder = prepared[0]
        with steps.time("stream"):
            _, batches = open_log(log, embedder)
            table = collect(batches, embedder, prompt_embedder(embedder, prepared[1], args.embedder))
        log_prompts = embedded(args.embedder) - reference_prompts

        def detect(hours: float) -> None:
            config = DetectConfig(
                log=str(log),
                out=work / "out",
                reference=str(reference),
                checkpoint_hours=hours,
                embedder=args.embedder,
                progress=False,
            )
            run_detect(config, prepared=prepared)

        with steps.time("detect"):
            detect(0.0)
        with steps.time("detect_with_checkpoints"):
            detect(2.0)
        with steps.time("cli"):
            cli(
                [
                    "--log",
                    str(log),
                    "--reference",
                    str(reference),
                    "--out",
                    str(work / "cli"),
                    "--checkpoint-hours",
                    "0",
                    "--embedder",
                    args.embedder,
                ]
            )

    result = {
        "benchmark": "detect_throughput",
        "format": args.format,
        "embedder": args.embedder,
        "prompts_through_minilm": {"reference": reference_prompts, "log": log_prompts},
        "accounts": len(table),
        "records": records,
        "days": args.days,
        "command": (
            f"distillab detect --log LOG.{args.format} --reference REF.parquet --out OUT --checkpoint-hours 0"
        ),
        "records_per_s": {k: round(records / v) for k, v in steps.wall.items() if k != "reference"},
        "records_per_cpu_s": {k: round(records / v) for k, v in steps.cpu.items() if k != "reference"},
        "seconds": {k: round(v, 2) for k, v in steps.wall.items()},
        "cpu_seconds": {k: round(v, 2) for k, v in steps.cpu.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "state_bytes_per_account": round(state_bytes(table) / max(len(table), 1)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "goal_records_per_s": 50_000,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
