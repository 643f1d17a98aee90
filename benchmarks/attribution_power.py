"""Power and size of `distillab prove attribution` against samples per prompt, on the tiny world's arith task.

    python benchmarks/attribution_power.py [--quick] [--steps 200] [--prompts 30] [--pool 50] [--reps 100]

The models, built the way a user would (nothing special-cased):

- T, the teacher: the cached toy arith teacher (``distillab toy teacher --task arith``);
- C, the control: an independent toy arith teacher of the same size and ability (``--seed 1``), the base
  the suspects start from (both teachers are built first if the cache has none: minutes each);
- D, distilled: C fine-tuned with ``run_train`` on T's sampled answers to ``--train-prompts`` arith
  problems (a black-box harvest; ``--loss``), i.e. a competitor that distilled T into its own model;
- U, unrelated: C fine-tuned the same way on the problems' reference answers, never on T's outputs.

(Students built from scratch with ``toy.student`` do not learn the task within a CPU budget of a few
hundred steps; their outputs then carry no trace of any teacher, so no test could attribute them.)

Each model completes ``--prompts`` held-out arith problems ``--pool`` times (T twice as often) through
``provenance.samples.sample``, the path ``distillab prove attribution`` takes. Each repetition then draws
m completions per prompt and model without replacement from these pools (as Model Equality Testing's
experiments draw from a fixed dataset of completions) and runs the tests at alpha 0.05:

- equality (MMD permutation test): T vs T on disjoint draws (size); D, U and C vs T (power);
- closeness ("is the suspect closer to T than to C?"): D (power), U (false attribution), and D with both
  references T on disjoint draws (size: A = B makes the null exactly true).

m = 1 is reported as n/a: both tests compare completions of the same prompt, so they need two.
Writes benchmarks/results/attribution_power.json (``--quick``: attribution_power_quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ALPHA = 0.05


class ReferenceAnswers:
    """A text-only Teacher that answers each arith problem with its reference solution: a harvest from it
    is a training set that never saw the toy teacher's outputs."""

    name = "reference-answers"
    endpoint = "arith reference answers"

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    async def probe(self) -> Any:
        from distillab.teacher.base import Capabilities

        return Capabilities(mode="text")

    async def generate(self, prompt: Any, params: Any, n: int = 1) -> Any:
        from distillab.teacher.base import Generation, Sample

        text = self.answers[prompt[-1]["content"]]
        samples = [Sample(text=text, finish_reason="stop") for _ in range(n)]
        return Generation(samples, prompt_tokens=0, completion_tokens=n * len(text.split()))

    async def aclose(self) -> None:
        pass


def harvest(teacher: Any, prompts: Path, out: Path, seed: int) -> Path:
    from rich.console import Console

    from distillab.data.config import HarvestConfig
    from distillab.data.harvest import run_harvest

    source = teacher if isinstance(teacher, str) else "http://unused.invalid/v1"
    config = HarvestConfig(
        teacher=source,
        prompts=prompts,
        out=out,
        n=1,
        temperature=1.0,
        max_tokens=64,
        top_logprobs=0 if not isinstance(teacher, str) else 20,
        seed=seed,
        concurrency=64,
        progress=False,
    )
    run_harvest(config, teacher=None if isinstance(teacher, str) else teacher, console=Console(quiet=True))
    return out


def fine_tune(base: Path, data: Path, out: Path, args: argparse.Namespace, loss: str) -> Path:
    from rich.console import Console

    from distillab.train.config import TrainConfig
    from distillab.train.trainer import run_train

    if not (out / "config.json").is_file():  # else trained by an earlier run (same --work and recipe)
        config = TrainConfig(
            student=base,
            data=data,
            out=out,
            loss=loss,
            lr=args.lr,
            max_steps=args.steps,
            batch_size=args.batch_size,
            eval_fraction=0.05,
            seed=args.seed,
            progress=False,
        )
        run_train(config, console=Console(quiet=True))
    return out


def rates(
    draw: Callable[[Any, int], dict[str, Any]],
    test: Callable[[dict[str, Any]], float],
    m: int,
    reps: int,
    rng: Any,
) -> float:
    return sum(test(draw(rng, m)) < ALPHA for _ in range(reps)) / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny everything: a smoke run of the script")
    parser.add_argument("--teacher", help="teacher directory (default: the cached toy arith teacher)")
    parser.add_argument("--samples", default="1,2,5,10,20", help="samples per prompt to evaluate")
    parser.add_argument("--prompts", type=int, default=30, help="held-out prompts every test uses")
    parser.add_argument("--pool", type=int, default=50, help="completions per prompt sampled from each model")
    parser.add_argument("--reps", type=int, default=100, help="repetitions per cell (power estimates)")
    parser.add_argument("--permutations", type=int, default=200, help="permutations per equality test")
    parser.add_argument("--train-prompts", type=int, default=1000, help="answers each fine-tune trains on")
    parser.add_argument("--steps", type=int, default=100, help="fine-tuning steps of D and U")
    parser.add_argument("--loss", default="sft", help="D's loss (sft: from text only, as from an API)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--kernel-chars", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the tests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu"],
        help="cpu hides any GPU; auto trains and samples on a GPU where there is one",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--work",
        help="keep models and samples here and reuse them on the next run (default: a temporary directory)",
    )
    args = parser.parse_args()
    if args.quick:
        args.samples, args.prompts, args.pool, args.reps = "2,5", 10, 12, 20
        args.steps, args.train_prompts = 20, 200
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import numpy as np
    import torch
    from rich.console import Console

    torch.set_num_threads(args.threads)
    from distillab.provenance.mmd import closeness_test, equality_test
    from distillab.provenance.samples import sample
    from distillab.toy.arith import problems
    from distillab.toy.prompts import prompt_rows, write_rows

    started = time.monotonic()
    from distillab.toy.config import TeacherConfig
    from distillab.toy.train_teacher import toy_teacher

    teacher = (
        Path(args.teacher) if args.teacher else toy_teacher(TeacherConfig(task="arith"), threads=args.threads)
    )
    control = toy_teacher(TeacherConfig(task="arith", seed=1), threads=args.threads)
    sizes = sorted(int(m) for m in args.samples.split(","))
    timings: dict[str, float] = {"teachers_s": time.monotonic() - started}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(args.work or tmp_name)
        t0 = time.monotonic()
        train_prompts = write_rows(
            prompt_rows("arith", "train", args.train_prompts, seed=args.seed), tmp / "train.jsonl"
        )
        train_problems = problems("train", args.train_prompts, seed=args.seed)
        gold = ReferenceAnswers({p.prompt: p.answer for p in train_problems})
        n = args.train_prompts
        from_teacher = harvest(str(teacher), train_prompts, tmp / f"harvest-teacher-{n}", args.seed)
        from_gold = harvest(gold, train_prompts, tmp / f"harvest-gold-{n}", args.seed)
        timings["harvest_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        recipe = f"{args.train_prompts}x{args.steps}x{args.batch_size}-lr{args.lr:g}-seed{args.seed}"
        models = {
            "T": teacher,
            "C": control,
            "D": fine_tune(control, from_teacher, tmp / f"distilled-{recipe}-{args.loss}", args, args.loss),
            "U": fine_tune(control, from_gold, tmp / f"unrelated-{recipe}-sft", args, "sft"),
        }
        timings["train_s"] = time.monotonic() - t0
        print(f"fine-tuned 2 models, {args.steps} steps each, in {timings['train_s']:.0f}s", flush=True)
        t0 = time.monotonic()
        test_rows = prompt_rows("arith", "test", args.prompts, seed=args.seed)
        test_prompts = write_rows(test_rows, tmp / "test.jsonl")
        pools = {
            name: sample(
                str(path),
                test_prompts,
                tmp / "samples" / name,
                n=args.pool * (2 if name == "T" else 1),
                temperature=args.temperature,
                max_tokens=48,
                progress=False,
                console=Console(quiet=True),
            )
            for name, path in models.items()
        }
        timings["sample_s"] = time.monotonic() - t0
        print(
            f"sampled {sum(sum(map(len, p.values())) for p in pools.values())} completions in "
            f"{timings['sample_s']:.0f}s",
            flush=True,
        )

    def draw(rng: Any, m: int) -> dict[str, Any]:
        out: dict[str, Any] = {name: {} for name in ("T", "T2", "D", "C", "U")}
        for prompt in pools["T"]:
            teacher_pool = pools["T"][prompt]
            picked = rng.choice(len(teacher_pool), size=2 * m, replace=False)
            out["T"][prompt] = [teacher_pool[i] for i in picked[:m]]
            out["T2"][prompt] = [teacher_pool[i] for i in picked[m:]]
            for name in ("D", "C", "U"):
                pool = pools[name].get(prompt, [])
                if len(pool) >= m:
                    out[name][prompt] = [pool[i] for i in rng.choice(len(pool), size=m, replace=False)]
        out["seed"] = int(rng.integers(2**31))
        return out

    def equality(x: str, y: str) -> Callable[[dict[str, Any]], float]:
        return lambda d: (
            equality_test(
                d[x], d[y], length=args.kernel_chars, permutations=args.permutations, seed=d["seed"]
            ).p_value
        )

    def closer(s: str, a: str, b: str) -> Callable[[dict[str, Any]], float]:
        return lambda d: closeness_test(d[s], d[a], d[b], length=args.kernel_chars).p_value

    cells = {
        "equality_size_T_vs_T": equality("T", "T2"),
        "equality_power_D_vs_T": equality("D", "T"),
        "equality_power_U_vs_T": equality("U", "T"),
        "equality_power_C_vs_T": equality("C", "T"),
        "closeness_power_D": closer("D", "T", "C"),
        "closeness_false_attribution_U": closer("U", "T", "C"),
        "closeness_size_A_eq_B": closer("D", "T", "T2"),
    }
    rng = np.random.default_rng(args.seed)
    rows: list[dict[str, Any]] = []
    t0 = time.monotonic()
    for m in sizes:
        row: dict[str, Any] = {"samples_per_prompt": m}
        for cell, test in cells.items():
            row[cell] = None if m < 2 or m > args.pool else rates(draw, test, m, args.reps, rng)
        rows.append(row)
        print(
            f"  m={m:>2}: "
            + "  ".join(
                f"{k}={'n/a' if v is None else f'{v:.2f}'}"
                for k, v in row.items()
                if k != "samples_per_prompt"
            ),
            flush=True,
        )
    timings["tests_s"] = time.monotonic() - t0
    header = f"{'m':>3} | " + " | ".join(f"{c:>29}" for c in cells)
    print("\nrejection rate at alpha 0.05 (" + f"{args.reps} repetitions, {args.prompts} prompts)")
    print(header)
    for row in rows:
        print(
            f"{row['samples_per_prompt']:>3} | "
            + " | ".join(f"{'n/a' if row[c] is None else f'{row[c]:.2f}':>29}" for c in cells)
        )
    result = {
        "benchmark": "attribution_power",
        "quick": args.quick,
        "alpha": ALPHA,
        "teacher": str(teacher),
        "models": {
            "T": f"toy arith teacher ({teacher})",
            "C": f"control: toy arith teacher, seed 1 ({control})",
            "D": f"C fine-tuned on T's sampled answers ({args.loss}, {args.steps} steps)",
            "U": f"C fine-tuned on reference answers (sft, {args.steps} steps)",
        },
        "settings": {k: v for k, v in vars(args).items() if k not in ("quick",)},
        "rows": rows,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "seconds": round(time.monotonic() - started, 1),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "command": " ".join(["python benchmarks/attribution_power.py", *sys.argv[1:]]),
    }
    path = RESULTS / ("attribution_power_quick.json" if args.quick else "attribution_power.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
