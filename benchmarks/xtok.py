"""Cross-tokenizer KD on the tiny arith task: does it beat SFT by as much as KD within one tokenizer does?

    python benchmarks/xtok.py [--quick] [--teacher DIR] [--queries 1000] [--seeds 0,1,2]

The user path, nothing special-cased: the toy arith teacher (``--teacher``, else the cached
``distillab toy teacher``), one harvest of its answers to ``--queries`` train prompts with top-20
log-probs (``run_harvest``, as ``distillab generate`` does; the harvest records the teacher's
tokenizer), and two random students a quarter of the teacher's size (``models.random_init.random_student``):

- ``same``: the teacher's tokenizer; trained with ``sft`` (text only) and ``fkl`` (top-k forward KL);
- ``other``: the tiny world's second tokenizer (``toy.tokenizer.other_tokenizer``: every number's
  leading space is its own token, other merges, other ids); trained with ``sft``, cross-tokenizer
  ``align`` (forward KL where tokens match one-to-one, span log-probs elsewhere), ``align`` from the
  local teacher's logits (``--teacher``: top-64 per position instead of the harvest's top-20), and
  ``uld`` (Boizard et al. 2024).

Every student sees the same records, steps, batch size and learning rate (kd weight 0.5), and is
scored by greedy accuracy on held-out arith test problems. The question (issue 19, item 4): is
``acc(other, align) - acc(other, sft)`` at least ``acc(same, fkl) - acc(same, sft)``? Writes
benchmarks/results/xtok.json (``--quick``: xtok_quick.json; ``--out NAME``) after every run.

Seeds can run in parallel processes (``--seeds 1 --out xtok_seed1.json``), then be combined:
``python benchmarks/xtok.py --merge xtok_seed0.json xtok_seed1.json`` writes xtok.json with the summary
over all runs (a run in a later file replaces the same arm and seed in an earlier one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

ARMS = [
    # (student, name, loss, cross-tokenizer method, use the local teacher's logits)
    ("same", "sft", "sft", "align", False),
    ("same", "kd", "fkl", "align", False),
    ("other", "sft", "fkl", "sft", False),
    ("other", "align", "fkl", "align", False),
    ("other", "align-logits", "fkl", "align", True),
    ("other", "uld", "fkl", "uld", False),
]


def teacher_dir(args: argparse.Namespace) -> Path:
    if args.teacher:
        return Path(args.teacher)
    from distillab.toy.config import TeacherConfig
    from distillab.toy.train_teacher import toy_teacher

    return toy_teacher(TeacherConfig(task="arith"))


def harvest(teacher: Path, n: int, out: Path, seed: int) -> Path:
    from distillab.data.config import HarvestConfig
    from distillab.data.harvest import run_harvest
    from distillab.toy.prompts import prompt_rows, write_rows

    prompts = write_rows(prompt_rows("arith", "train", n, seed=seed), out.parent / "prompts.jsonl")
    config = HarvestConfig(
        teacher=str(teacher),
        prompts=prompts,
        out=out,
        n=1,
        temperature=1.0,
        max_tokens=64,
        top_logprobs=20,
        seed=seed,
        concurrency=64,
        progress=False,
    )
    run_harvest(config, console=Console(quiet=True))
    return out


def accuracy(model_dir: Path, tests: list[Any]) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distillab.toy.accuracy import arith_accuracy

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    return arith_accuracy(model, AutoTokenizer.from_pretrained(model_dir), tests)


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean accuracy per arm, each KD arm's gain over its student's SFT, and the goal's verdict."""
    by_arm: dict[str, list[float]] = {}
    for run in runs:
        by_arm.setdefault(f"{run['student']}/{run['arm']}", []).append(run["accuracy"])
    means = {k: statistics.mean(v) for k, v in by_arm.items()}
    out: dict[str, Any] = {"mean_accuracy": means, "runs_per_arm": {k: len(v) for k, v in by_arm.items()}}
    if "same/sft" in means and "same/kd" in means:
        same_gain = means["same/kd"] - means["same/sft"]
        out["same_tokenizer_kd_gain"] = same_gain
        for arm in ("align", "align-logits", "uld"):
            if f"other/{arm}" in means and "other/sft" in means:
                gain = means[f"other/{arm}"] - means["other/sft"]
                out[f"cross_{arm}_gain"] = gain
                out[f"cross_{arm}_meets_goal"] = gain >= same_gain
    return out


def merge(paths: list[Path]) -> None:
    """One result from several processes' files (same settings): runs joined, summary redone.

    A run of a later file replaces one of an earlier file with the same student, arm and seed (a rerun).
    """
    parts = [json.loads(p.read_text()) for p in paths]
    result = dict(parts[0])
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    for part in parts:
        runs.update({(run["student"], run["arm"], run["seed"]): run for run in part["runs"]})
    result["runs"] = list(runs.values())
    result["summary"] = summary(result["runs"])
    result["seconds"] = max(part["seconds"] for part in parts)
    result["command"] = [part["command"] for part in parts]
    result["merged_from"] = [p.name for p in paths]
    (RESULTS / "xtok.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 300 queries, 100 test problems")
    parser.add_argument("--teacher", help="teacher directory (default: the cached toy arith teacher)")
    parser.add_argument("--queries", type=int, default=1000, help="teacher queries (prompts harvested)")
    parser.add_argument("--seeds", default="0,1,2", help="student seeds (initialisation and data order)")
    parser.add_argument("--arms", default=",".join(f"{s}/{n}" for s, n, *_ in ARMS))
    parser.add_argument("--tests", type=int, default=300, help="arith test problems to score on")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for tiny models)")
    parser.add_argument("--out", help="result file name in benchmarks/results (default xtok.json)")
    parser.add_argument("--merge", nargs="+", help="combine these result files into xtok.json and exit")
    args = parser.parse_args()
    if args.merge:
        merge([RESULTS / name for name in args.merge])
        return
    if args.quick:
        args.queries, args.tests, args.seeds, args.steps = 300, 100, "0", 60
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = set(args.arms.split(","))

    from distillab.models.random_init import random_student
    from distillab.toy.arith import problems
    from distillab.toy.tokenizer import other_tokenizer
    from distillab.train.config import TrainConfig
    from distillab.train.trainer import run_train

    started = time.monotonic()
    teacher = teacher_dir(args)
    tests = problems("test", args.tests, seed=0)
    teacher_acc = accuracy(teacher, tests)
    print(f"teacher {teacher}: accuracy {teacher_acc:.3f} on {len(tests)} test problems", flush=True)
    runs: list[dict[str, Any]] = []
    students: dict[str, Any] = {}
    harvest_seconds = 0.0

    def save() -> Path:
        path = RESULTS / (args.out or ("xtok_quick.json" if args.quick else "xtok.json"))
        result = {
            "benchmark": "xtok",
            "quick": args.quick,
            "teacher": str(teacher),
            "teacher_accuracy": teacher_acc,
            "test_problems": len(tests),
            "queries": args.queries,
            "harvest": {"temperature": 1.0, "top_logprobs": 20, "seconds": round(harvest_seconds, 1)},
            "students": students,
            "training": {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "kd_weight": 0.5},
            "summary": summary(runs),
            "runs": runs,
            "seconds": round(time.monotonic() - started, 1),
            "threads": args.threads,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "command": " ".join(["python benchmarks/xtok.py", *sys.argv[1:]]),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        return path

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.monotonic()
        data = harvest(teacher, args.queries, tmp / "harvest" / "all", seed=0)
        harvest_seconds = time.monotonic() - t0
        print(f"harvested {args.queries} prompts in {harvest_seconds:.0f}s", flush=True)
        for seed in seeds:
            for kind in ("same", "other"):
                tokenizer = other_tokenizer() if kind == "other" else None
                made = random_student(
                    teacher, tmp / f"{kind}-{seed}", seed=seed, max_ratio=0.25, tokenizer=tokenizer
                )
                students[kind] = {
                    "parameters": made.student_parameters,
                    "ratio": made.ratio,
                    "layers": made.layers,
                    "hidden_size": made.hidden_size,
                }
            for kind, arm, loss, cross, logits in ARMS:
                if f"{kind}/{arm}" not in wanted:
                    continue
                out = tmp / f"run-{kind}-{arm}-{seed}"
                t0 = time.monotonic()
                config = TrainConfig(
                    student=tmp / f"{kind}-{seed}",
                    data=data,
                    out=out,
                    loss=loss,
                    cross_tokenizer=cross,
                    teacher=teacher if logits else None,
                    lr=args.lr,
                    max_steps=args.steps,
                    batch_size=args.batch_size,
                    eval_fraction=0.05,
                    seed=seed,
                    progress=False,
                )
                result = run_train(config, console=Console(quiet=True))
                run = {
                    "student": kind,
                    "arm": arm,
                    "seed": seed,
                    "loss": loss,
                    "cross_tokenizer": result.record["loss"]["cross_tokenizer"],
                    "alignment": result.record["cross_tokenizer"],
                    "train_seconds": round(time.monotonic() - t0, 1),
                    "eval": result.eval,
                    "accuracy": accuracy(out, tests),
                }
                runs.append(run)
                print(
                    f"  seed {seed} {kind:>5} {arm:>12}: accuracy {run['accuracy']:.3f} "
                    f"({run['train_seconds']:.0f}s)",
                    flush=True,
                )
                save()
    print(json.dumps(summary(runs), indent=2))
    print(f"wrote {save().relative_to(ROOT)}")


if __name__ == "__main__":
    main()
