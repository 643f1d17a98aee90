"""Membership of served answers against the share of the student's training data they make up.

    python benchmarks/membership_power.py [--fractions 0.01,0.05,0.1] [--train-prompts 1000] [--steps 400]

The setting of benchmarks/radioactivity_curve.py: the cached toy text teacher serves watermarked answers
(lefthash, h = 1, gamma 0.25, delta 2) to 1,000 training prompts and plain answers to the same prompts;
for each fraction rho, a student a quarter of the teacher's size is SFT-trained on a set where the first
rho of the answers are the watermarked (served) ones and the rest plain. The provider then samples
--alternatives fresh watermarked answers to each served prompt, with the same key and settings, and runs
`distillab prove membership` (served answers vs fresh ones, scored by the student). A null student trained
on plain answers only is tested the same way against every fraction's served set. Prints and writes
benchmarks/results/membership_power.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# A sibling script: run as `python benchmarks/membership_power.py`, Python puts benchmarks/ on sys.path.
import radioactivity_curve as rc
import torch
from rich.console import Console


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fractions", default="0.01,0.05,0.1")
    parser.add_argument("--train-prompts", type=int, default=1000)
    parser.add_argument("--alternatives", type=int, default=4, help="fresh answers per served prompt")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--delta", type=float, default=2.0)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=rc.RESULTS / "membership_power.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fractions = sorted(float(f) for f in args.fractions.split(","))

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from distillab.data.records import data_files
    from distillab.models.generate import Engine
    from distillab.models.random_init import random_student
    from distillab.provenance.config import WatermarkConfig
    from distillab.provenance.membership import MembershipConfig, run_membership
    from distillab.provenance.watermark import Watermarker
    from distillab.serving.app import create_app
    from distillab.toy.prompts import prompt_rows, write_rows
    from distillab.train.config import TrainConfig
    from distillab.train.trainer import run_train

    started = time.monotonic()
    teacher = rc.teacher_dir(argparse.Namespace(teacher=None))
    config = WatermarkConfig(scheme="lefthash", context=1, gamma=0.25, delta=args.delta)
    engine = Engine.load(teacher, device=args.device)
    results: list[dict[str, Any]] = []
    quiet = Console(quiet=True)

    def served_app() -> Any:
        return create_app(
            engine, model_name="teacher", watermarker=Watermarker(config, rc.MASTER), max_batch=64
        )

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = prompt_rows("text", "train", args.train_prompts, seed=args.seed)
        train_prompts = write_rows(rows, tmp / "train.jsonl")
        marked = rc.harvest(served_app(), train_prompts, tmp / "marked", args)
        plain = rc.harvest(
            create_app(engine, model_name="teacher", max_batch=64), train_prompts, tmp / "plain", args
        )
        order = [row["id"] for row in rows]
        largest = write_rows(rows[: round(max(fractions) * len(rows))], tmp / "served-prompts.jsonl")
        fresh = rc.harvest(served_app(), largest, tmp / "fresh", args, n=args.alternatives)
        print(f"harvested in {time.monotonic() - started:.0f}s", flush=True)

        def train(name: str, rho: float, seed: int) -> Path:
            init = tmp / f"init-{seed}"
            if not init.exists():
                random_student(teacher, init, seed=seed, max_ratio=0.25)
            data = rc.mix(marked, plain, set(order[: round(rho * len(order))]), tmp / f"data-{name}")
            out = tmp / f"student-{name}"
            run_train(
                TrainConfig(
                    student=init,
                    data=data,
                    out=out,
                    loss="sft",
                    lr=args.lr,
                    max_steps=args.steps,
                    batch_size=args.batch_size,
                    eval_fraction=0.0,
                    seed=seed,
                    progress=False,
                ),
                console=quiet,
            )
            return out

        def served_file(rho: float) -> Path:
            """The watermarked answers the student's training set took: those of the first rho of the
            prompts."""
            path = tmp / f"served-{rho:g}.parquet"
            if not path.exists():
                table = pq.read_table(data_files(marked)[0])
                ids = pa.array(sorted(order[: round(rho * len(order))]), pa.string())
                pq.write_table(
                    table.filter(pc.is_in(table["prompt_id"], value_set=ids)).select(
                        ["prompt", "messages", "completion"]
                    ),
                    path,
                )
            return path

        def test(student: Path, rho: float) -> dict[str, Any]:
            result = run_membership(
                MembershipConfig(
                    suspect=str(student),
                    served=served_file(rho),
                    alternatives=fresh,
                    out=tmp / f"evidence-{rho:g}-{student.name}",
                    device=args.device,
                ),
                console=quiet,
            )
            return {
                "p_value": result.p_value,
                "prompts": result.sample_sizes["prompts"],
                "served_on_top": int(result.statistic),
                **result.effect,
            }

        null = train("null", 0.0, args.seed + 1)
        for rho in fractions:
            student = train(f"rho{rho:g}", rho, args.seed)
            run = {
                "fraction": rho,
                "served_prompts": round(rho * len(order)),
                "student": test(student, rho),
                "null_student": test(null, rho),
            }
            results.append(run)
            print(
                f"  rho {rho:>5.0%}: {run['served_prompts']} served answers; student p = "
                f"{run['student']['p_value']:.3g} (on top for {run['student']['served_on_top']}); "
                "null student "
                f"p = {run['null_student']['p_value']:.3g}",
                flush=True,
            )

    out = {
        "benchmark": "membership_power",
        "settings": {k: str(v) for k, v in vars(args).items()},
        "watermark": config.as_dict(),
        "runs": results,
        "seconds": round(time.monotonic() - started, 1),
        "cpus": os.cpu_count(),
        "command": " ".join(["python benchmarks/membership_power.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["runs"], indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
