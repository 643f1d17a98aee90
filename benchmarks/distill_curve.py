"""Student accuracy against the number of teacher queries, SFT vs top-k KD vs sampled KD, on the tiny
world's arith task.

    python benchmarks/distill_curve.py [--quick] [--teacher DIR] [--budgets 250,500,1000,2000,4000,8000]
                                       [--draws 12]

The whole user path, nothing special-cased: the cached toy arith teacher (``distillab toy teacher``;
built first if the cache has none, which takes minutes), a random student a quarter of its size
(``models.random_init.random_student``), one harvest of the teacher's answers with top-20 log-probs
(``run_harvest`` against the local teacher, exactly what ``distillab generate`` does), then for each
budget of N queries (the first N prompts of that harvest) two students trained by ``run_train``: ``sft``
(text only) and ``fkl`` (top-k forward KL mixed with CE, the default W = 0.5). With ``--draws K`` (default
12; 0: off) a second harvest with the same seed stores K ids drawn per position instead of the top-20
(``distillab generate --draws``; the same texts, since draws have their own generator), and a third
student trains ``fkl`` on it (the unbiased sampled estimate): the ``signal`` column of each run says
which. Each student is scored by greedy accuracy on the held-out arith test split, next to the teacher's
own accuracy; each harvest's Parquet bytes per completion token are recorded too.

Every budget trains for ``--epochs`` passes (at least ``--min-steps`` steps), so small budgets are not
starved of updates. ``--train-seeds 0,1,2`` trains every column from several student seeds on the same
harvest: these tiny students vary by 10-20 points between seeds, so compare columns on paired seeds.
The sampled-vs-top-20 numbers in docs/train.md came from ``--budgets 4000,8000 --draws 12`` (seed 0)
and ``--budgets 8000 --draws 12 --train-seeds 1,2``. Writes benchmarks/results/distill_curve.json
(``--quick``: distill_curve_quick.json; ``--out NAME``: NAME).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def teacher_dir(args: argparse.Namespace) -> Path:
    if args.teacher:
        return Path(args.teacher)
    from distillab.toy.config import TeacherConfig
    from distillab.toy.train_teacher import toy_teacher

    return toy_teacher(TeacherConfig(task="arith"))


def harvest_all(teacher: Path, n: int, out: Path, temperature: float, seed: int, draws: int = 0) -> Path:
    """One harvest of the teacher's answers to the first ``n`` arith train prompts (top-20, or draws)."""
    from distillab.data.config import HarvestConfig
    from distillab.data.harvest import run_harvest
    from distillab.toy.prompts import prompt_rows, write_rows

    prompts = write_rows(prompt_rows("arith", "train", n, seed=seed), out.parent / "prompts.jsonl")
    config = HarvestConfig(
        teacher=str(teacher),
        prompts=prompts,
        out=out,
        n=1,
        temperature=temperature,
        max_tokens=64,
        top_logprobs=20,
        draws=draws,
        seed=seed,
        concurrency=64,
        progress=False,
    )
    run_harvest(config, console=Console(quiet=True))
    return out


def subset(harvest: Path, prompt_ids: list[str], out: Path) -> Path:
    """A harvest directory holding only the records of ``prompt_ids`` (the first N queries)."""
    from distillab.data.records import SCHEMA, data_files

    table = pq.read_table(data_files(harvest)[0], schema=SCHEMA)
    table = table.filter(pc.is_in(table["prompt_id"], value_set=pa.array(prompt_ids)))
    (out / "data").mkdir(parents=True)
    pq.write_table(table, out / "data" / "train-00000-of-00001.parquet")
    manifest = json.loads((harvest / "manifest.json").read_text())
    manifest["counts"] = dict(manifest["counts"], prompts=len(prompt_ids), records=table.num_rows)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def accuracy(model_dir: Path, tests: list[Any]) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distillab.toy.accuracy import arith_accuracy

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    return arith_accuracy(model, AutoTokenizer.from_pretrained(model_dir), tests)


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean accuracy over training seeds, per (queries, loss, signal)."""
    groups: dict[tuple[int, str, str], list[float]] = {}
    for run in runs:
        groups.setdefault((run["queries"], run["loss"], run["signal"]), []).append(run["accuracy"])
    return [
        {"queries": n, "loss": loss, "signal": signal, "seeds": len(acc), "accuracy": sum(acc) / len(acc)}
        for (n, loss, signal), acc in groups.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="budgets 250 and 1000, 200 test problems")
    parser.add_argument("--teacher", help="teacher directory (default: the cached toy arith teacher)")
    parser.add_argument("--budgets", default="250,500,1000,2000,4000,8000")
    parser.add_argument("--losses", default="sft,fkl", help="trained on the top-20 harvest")
    parser.add_argument("--draws", type=int, default=12, help="sampled-KD column: ids per position (0: off)")
    parser.add_argument("--tests", type=int, default=500, help="arith test problems to score on")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--min-steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--temperature", type=float, default=1.0, help="teacher sampling temperature")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-seeds", help="students (init and data order) per column, e.g. 0,1,2 (default: --seed)"
    )
    parser.add_argument("--out", help="result file name under benchmarks/results/ (default by --quick)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: tiny models on a shared machine run ~20x faster than on 2 contended threads)",
    )
    args = parser.parse_args()
    if args.quick:
        args.budgets, args.tests = "250,1000", 200
    budgets = sorted(int(b) for b in args.budgets.split(","))
    torch.set_num_threads(args.threads)

    from distillab.models.random_init import random_student
    from distillab.toy.arith import problems
    from distillab.train.config import TrainConfig
    from distillab.train.trainer import run_train

    started = time.monotonic()
    teacher = teacher_dir(args)
    tests = problems("test", args.tests, seed=args.seed)
    teacher_acc = accuracy(teacher, tests)
    print(f"teacher {teacher}: accuracy {teacher_acc:.3f} on {len(tests)} test problems", flush=True)
    runs: list[dict[str, Any]] = []
    harvest_seconds = 0.0
    harvest_bytes: dict[str, float] = {}
    student_info: dict[str, Any] = {}

    def save() -> Path:  # after every run, so a cut-off benchmark keeps what it measured
        name = args.out or ("distill_curve_quick.json" if args.quick else "distill_curve.json")
        result_path = RESULTS / name
        result = {
            "benchmark": "distill_curve",
            "quick": args.quick,
            "teacher": str(teacher),
            "teacher_accuracy": teacher_acc,
            "test_problems": len(tests),
            "student": student_info,
            "harvest": {
                "prompts": budgets[-1],
                "temperature": args.temperature,
                "top_logprobs": 20,
                "draws": args.draws,
                "seconds": round(harvest_seconds, 1),
                "parquet_bytes_per_completion_token": harvest_bytes,
            },
            "training": {
                "epochs": args.epochs,
                "min_steps": args.min_steps,
                "batch_size": args.batch_size,
                "lr": args.lr,
                "kd_weight": 0.5,
            },
            "runs": runs,
            "mean_accuracy": summary(runs),
            "seconds": round(time.monotonic() - started, 1),
            "threads": args.threads,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "command": " ".join(["python benchmarks/distill_curve.py", *sys.argv[1:]]),
        }
        result_path.parent.mkdir(parents=True, exist_ok=True)
        result_path.write_text(json.dumps(result, indent=2) + "\n")
        return result_path

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        train_seeds = [int(x) for x in args.train_seeds.split(",")] if args.train_seeds else [args.seed]
        for seed in train_seeds:
            student_info = random_student(
                teacher, tmp / f"student-{seed}", seed=seed, max_ratio=0.25
            ).to_json()
        t0 = time.monotonic()
        full = {
            "top-20": harvest_all(teacher, budgets[-1], tmp / "harvest" / "all", args.temperature, args.seed)
        }
        if args.draws:
            sampled = f"sampled-{args.draws}"
            full[sampled] = harvest_all(
                teacher, budgets[-1], tmp / "harvest" / "sampled", args.temperature, args.seed, args.draws
            )
        harvest_seconds = time.monotonic() - t0
        for signal, path in full.items():
            tokens = json.loads((path / "manifest.json").read_text())["tokens"]["completion"]
            harvest_bytes[signal] = round(
                sum(f.stat().st_size for f in (path / "data").glob("*.parquet")) / tokens, 1
            )
        lines = (tmp / "harvest" / "prompts.jsonl").read_text().splitlines()
        order = [json.loads(line)["id"] for line in lines]
        print(
            f"harvested {budgets[-1]} prompts in {harvest_seconds:.0f}s; bytes/token {harvest_bytes}",
            flush=True,
        )
        for n in budgets:
            data = {
                signal: subset(path, order[:n], tmp / f"harvest-{signal}-{n}")
                for signal, path in full.items()
            }
            steps = max(args.min_steps, math.ceil(args.epochs * n / args.batch_size))
            plan = [(loss, "top-20") for loss in args.losses.split(",")]
            plan += [("fkl", signal) for signal in full if signal != "top-20"]
            for seed, (loss, signal) in ((s, p) for s in train_seeds for p in plan):
                out = tmp / f"student-{loss}-{signal}-{n}-{seed}"
                t0 = time.monotonic()
                config = TrainConfig(
                    student=tmp / f"student-{seed}",
                    data=data[signal],
                    out=out,
                    loss=loss,
                    lr=args.lr,
                    max_steps=steps,
                    batch_size=args.batch_size,
                    eval_fraction=0.05,
                    seed=seed,
                    progress=False,
                )
                result = run_train(config, console=Console(quiet=True))
                run = {
                    "queries": n,
                    "loss": loss,
                    "signal": "text" if loss == "sft" else signal,
                    "train_seed": seed,
                    "steps": steps,
                    "train_seconds": round(time.monotonic() - t0, 1),
                    "eval_loss": result.eval.get("loss"),
                    "accuracy": accuracy(out, tests),
                }
                runs.append(run)
                print(
                    f"  {n:>5} queries  {loss:>4} {run['signal']:>10} seed {seed}: "
                    f"accuracy {run['accuracy']:.3f} ({steps} steps, {run['train_seconds']:.0f}s)",
                    flush=True,
                )
                save()
    print(f"wrote {save()}")


if __name__ == "__main__":
    main()
