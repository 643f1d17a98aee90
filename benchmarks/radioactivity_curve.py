"""Scored pairs needed to prove radioactivity (p < 1e-5) against the share of watermarked training data.

    python benchmarks/radioactivity_curve.py [--quick] [--teacher DIR] [--fractions 0.01,0.05,0.1,1]
                                             [--train-prompts 2000] [--steps 400] [--device auto]

The whole user path on the tiny world's text task: the cached toy text teacher (``distillab toy teacher
--task text``; built first if the cache has none, ~8 minutes on 2 CPU cores) served in-process with and
without the watermark (what ``distillab serve --watermark-key-file`` runs), two harvests of its answers
to the same training prompts (``distillab generate``), and for each fraction rho a training set where the
answers to the first rho of the prompts are the watermarked ones and the rest plain. A random student a
quarter of the teacher's size is SFT-trained on each (``distillab train``), then tested for the key:

- open mode: the student reads the teacher's plain answers to held-out prompts (teacher forcing) and its
  own most likely next tokens are scored, skipping the pairs that occur in those texts (the default,
  valid whatever the texts) and, as `open_unmarked`, scoring them too (``--unmarked-texts``: valid
  because these texts carry no watermark), and as `open_unmarked_topk` scoring its --top-k most likely
  tokens at each position (``--top-k``), and as `open_unmarked_reference` scoring, of its --candidates
  most likely tokens, the one whose log-probability rose most over a reference model's (``--reference``):
  another student of the same size, from another random init, trained the same way on the teacher's
  plain answers to other training prompts (drawn independently from the same pool), as a defender can
  train one without knowing the suspect's data;
- closed mode: the student's sampled answers to the held-out prompts are scored.

For each, the distinct (context, token) pairs are taken in the order met, and the benchmark reports how
many were needed before the exact p-value fell below 1e-5 (null when it never did). Null students are
trained on plain answers only (rho = 0, --null-students seeds); their p-values under the real key and
--null-keys unrelated keys give the null histogram, which should be flat.

Writes benchmarks/results/radioactivity_curve.json (``--quick``: radioactivity_curve_quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_P = 1e-5
MODES = ("open", "open_unmarked", "open_unmarked_topk", "open_unmarked_reference", "closed")
MASTER = b"radioactivity-benchmark-master-key"


def teacher_dir(args: argparse.Namespace) -> Path:
    if args.teacher:
        return Path(args.teacher)
    from distillab.toy.config import TeacherConfig
    from distillab.toy.train_teacher import toy_teacher

    return toy_teacher(TeacherConfig(task="text"))


def harvest(
    source: str | Any,
    prompts: Path,
    out: Path,
    args: argparse.Namespace,
    *,
    n: int = 1,
    seed: int | None = None,
) -> Path:
    """`distillab generate` from an app served in-process (watermarked or not) or a model directory."""
    from distillab.data.config import HarvestConfig
    from distillab.data.harvest import run_harvest
    from distillab.serving.background import run_in_background

    def run(teacher: str) -> None:
        run_harvest(
            HarvestConfig(
                teacher=teacher,
                prompts=prompts,
                out=out,
                n=n,
                temperature=1.0,
                max_tokens=args.max_tokens,
                top_logprobs=0,
                seed=seed,
                concurrency=64,
                progress=False,
            ),
            console=Console(quiet=True),
        )

    if isinstance(source, str):
        run(source)
    else:
        with run_in_background(source) as url:
            run(url + "/v1")
    return out


def mix(marked: Path, plain: Path, marked_ids: set[str], out: Path) -> Path:
    """A harvest directory with the marked answers for `marked_ids` and the plain ones for the rest."""
    from distillab.data.records import SCHEMA, data_files

    def table(path: Path, keep: bool) -> pa.Table:
        t = pq.read_table(data_files(path)[0], schema=SCHEMA)
        chosen = pc.is_in(t["prompt_id"], value_set=pa.array(sorted(marked_ids), pa.string()))
        return t.filter(chosen if keep else pc.invert(chosen))

    merged = pa.concat_tables([table(marked, True), table(plain, False)])
    (out / "data").mkdir(parents=True)
    pq.write_table(merged, out / "data" / "train-00000-of-00001.parquet")
    manifest = json.loads((plain / "manifest.json").read_text())
    manifest["counts"] = dict(manifest["counts"], records=merged.num_rows)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def first_below(scored: np.ndarray, p: np.ndarray) -> int | None:
    hits = np.flatnonzero(p < TARGET_P)
    return int(scored[hits[0]]) if len(hits) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="600 training prompts, 150 steps, 1 null student"
    )
    parser.add_argument("--teacher", help="teacher directory (default: the cached toy text teacher)")
    parser.add_argument("--fractions", default="0.01,0.05,0.1,1")
    parser.add_argument("--train-prompts", type=int, default=2000)
    parser.add_argument("--read-prompts", type=int, default=200, help="held-out prompts for both modes")
    parser.add_argument(
        "--read-samples",
        type=int,
        default=1,
        help="plain teacher answers per held-out prompt for open mode to read",
    )
    parser.add_argument(
        "--candidates", type=int, default=20, help="open mode with a reference: tokens compared"
    )
    parser.add_argument("--max-tokens", type=int, default=64, help="longest teacher / student answer")
    parser.add_argument("--closed-samples", type=int, default=2, help="student samples per held-out prompt")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--delta", type=float, default=2.0)
    parser.add_argument("--gamma", type=float, default=0.25)
    parser.add_argument("--context", type=int, default=1)
    parser.add_argument("--scheme", default="lefthash")
    parser.add_argument("--top-k", type=int, default=5, help="open mode: predictions scored per position")
    parser.add_argument("--null-students", type=int, default=2)
    parser.add_argument("--null-keys", type=int, default=200)
    parser.add_argument("--device", default="auto", help="where the teacher, students and scoring run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.train_prompts, args.read_prompts, args.steps, args.null_students = 600, 100, 150, 1
    fractions = sorted(float(f) for f in args.fractions.split(","))
    torch.set_num_threads(args.threads)

    from transformers import AutoTokenizer

    from distillab.data.records import read_records
    from distillab.models.generate import Engine
    from distillab.models.load import load_model
    from distillab.models.random_init import random_student
    from distillab.provenance.config import WatermarkConfig
    from distillab.provenance.detect import pairs
    from distillab.provenance.keys import derive
    from distillab.provenance.radioactivity import score_keys, suspect_predictions
    from distillab.provenance.stats import binomial_pvalue
    from distillab.provenance.watermark import Watermark, Watermarker
    from distillab.serving.app import create_app
    from distillab.toy.prompts import prompt_rows, write_rows
    from distillab.train.config import TrainConfig
    from distillab.train.trainer import run_train

    started = time.monotonic()
    teacher = teacher_dir(args)
    tokenizer = AutoTokenizer.from_pretrained(teacher)
    config = WatermarkConfig(scheme=args.scheme, context=args.context, gamma=args.gamma, delta=args.delta)
    key = Watermark(config, derive(MASTER))
    unrelated = [Watermark(config, derive(b"unrelated-%d-benchmark-key" % i)) for i in range(args.null_keys)]
    engine = Engine.load(teacher, device=args.device)
    runs: list[dict[str, Any]] = []
    nulls: list[dict[str, Any]] = []
    info: dict[str, Any] = {}

    def encode(texts: list[str]) -> list[list[int]]:
        return [list(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]

    def completions(path: Path) -> list[str]:
        return [t or "" for t in read_records(path, columns=["completion"]).column("completion").to_pylist()]

    def save() -> Path:
        path = RESULTS / ("radioactivity_curve_quick.json" if args.quick else "radioactivity_curve.json")
        result = {
            "benchmark": "radioactivity_curve",
            "quick": args.quick,
            "teacher": str(teacher),
            "watermark": config.as_dict(),
            "target_p": TARGET_P,
            "settings": vars(args),
            **info,
            "runs": runs,
            "null": nulls,
            "seconds": round(time.monotonic() - started, 1),
            "threads": args.threads,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "command": " ".join(["python benchmarks/radioactivity_curve.py", *sys.argv[1:]]),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        return path

    def prove(
        student: Path, marks: list[Watermark], reading: list[list[int]], read_prompts: Path, tmp: Path
    ) -> dict[str, Any]:
        """Open and closed mode tallies of `student` under `marks` (the first is the real key)."""
        model, _ = load_model(student, device=args.device)
        windows, predicted = suspect_predictions(model, reading, config.width, batch_size=16)
        open_tallies = score_keys(marks, windows, predicted, seen=reading)
        unmarked_tallies = score_keys(marks, windows, predicted)
        topk = score_keys(
            marks, *suspect_predictions(model, reading, config.width, top_k=args.top_k, batch_size=16)
        )
        rising = score_keys(
            marks,
            *suspect_predictions(
                model,
                reading,
                config.width,
                batch_size=16,
                reference=reference_model,
                candidates=args.candidates,
            ),
        )
        sampled = harvest(
            str(student), read_prompts, tmp / f"closed-{student.name}", args, n=args.closed_samples
        )
        closed_seq = encode(completions(sampled))
        prompt_seq = encode([row["messages"][0]["content"] for row in map(json.loads, read_prompts.open())])
        closed_tallies = score_keys(marks, *pairs(closed_seq, config.width), seen=prompt_seq)
        return {
            "open": open_tallies,
            "open_unmarked": unmarked_tallies,
            "open_unmarked_topk": topk,
            "open_unmarked_reference": rising,
            "closed": closed_tallies,
            "closed_tokens": sum(map(len, closed_seq)),
        }

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        train_prompts = write_rows(
            prompt_rows("text", "train", args.train_prompts, seed=args.seed), tmp / "train.jsonl"
        )
        read_prompts = write_rows(
            prompt_rows("text", "test", args.read_prompts, seed=args.seed), tmp / "read.jsonl"
        )
        t0 = time.monotonic()
        marked = harvest(
            create_app(engine, model_name="teacher", watermarker=Watermarker(config, MASTER), max_batch=64),
            train_prompts,
            tmp / "marked",
            args,
        )
        plain = harvest(
            create_app(engine, model_name="teacher", max_batch=64), train_prompts, tmp / "plain", args
        )
        reading_dir = harvest(
            create_app(engine, model_name="teacher", max_batch=64),
            read_prompts,
            tmp / "reading",
            args,
            n=args.read_samples,
        )
        other_prompts = write_rows(
            prompt_rows("text", "train", args.train_prompts, seed=args.seed + 100), tmp / "other.jsonl"
        )
        other = harvest(
            create_app(engine, model_name="teacher", max_batch=64), other_prompts, tmp / "other", args
        )
        reading = encode(completions(reading_dir))
        marked_seq = encode(completions(marked))
        from distillab.provenance.detect import detect

        info["harvest"] = {
            "train_prompts": args.train_prompts,
            "read_prompts": args.read_prompts,
            "read_samples": args.read_samples,
            "max_tokens": args.max_tokens,
            "seconds": round(time.monotonic() - t0, 1),
            "marked_tokens": sum(map(len, marked_seq)),
            "reading_tokens": sum(map(len, reading)),
            "marked_text_p": detect(marked_seq, key).p_value,
            "marked_text_green_fraction": detect(marked_seq, key).effect["green_fraction"],
        }
        print(
            f"harvested in {info['harvest']['seconds']:.0f}s; watermarked training text: "
            f"{info['harvest']['marked_tokens']} tokens, green share "
            f"{info['harvest']['marked_text_green_fraction']:.3f}",
            flush=True,
        )
        order = [json.loads(line)["id"] for line in train_prompts.read_text().splitlines()]

        def train(name: str, rho: float, seed: int, data: Path | None = None) -> Path:
            student = tmp / f"student-init-{seed}"
            if not student.exists():
                info["student"] = random_student(teacher, student, seed=seed, max_ratio=0.25).to_json()
            if data is None:
                data = mix(marked, plain, set(order[: round(rho * len(order))]), tmp / f"data-{name}")
            out = tmp / f"student-{name}"
            t = time.monotonic()
            run_train(
                TrainConfig(
                    student=student,
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
                console=Console(quiet=True),
            )
            print(f"  trained {name} in {time.monotonic() - t:.0f}s", flush=True)
            return out

        reference_model, _ = load_model(
            train("reference", 0.0, args.seed + 100, data=other), device=args.device
        )

        for rho in fractions:
            student = train(f"rho{rho:g}", rho, args.seed)
            tallies = prove(student, [key], reading, read_prompts, tmp)
            run: dict[str, Any] = {"fraction": rho, "marked_prompts": round(rho * len(order))}
            for mode in MODES:
                counts = tallies[mode][0]
                scored, p = counts.curve(config.gamma)
                run[mode] = {
                    "pairs_for_target": first_below(scored, p),
                    "pairs_scored": counts.scored,
                    "green_fraction": counts.green / max(counts.scored, 1),
                    "p_value": float(binomial_pvalue(counts.green, counts.scored, config.gamma)),
                    "excluded_positions": counts.excluded,
                }
            run["closed"]["tokens_sampled"] = tallies["closed_tokens"]
            runs.append(run)
            print(
                f"  rho {rho:>5.0%}: "
                + "; ".join(
                    f"{mode} {run[mode]['pairs_for_target']} pairs to p<1e-5 "
                    f"(final p {run[mode]['p_value']:.2g} over "
                    f"{run[mode]['pairs_scored']})"
                    for mode in MODES
                ),
                flush=True,
            )
            save()
        for i in range(args.null_students):
            student = train(f"null{i}", 0.0, args.seed + 1 + i)
            tallies = prove(student, [key, *unrelated], reading, read_prompts, tmp)
            entry: dict[str, Any] = {"seed": args.seed + 1 + i}
            for mode in MODES:
                ps = [float(binomial_pvalue(t.green, t.scored, config.gamma)) for t in tallies[mode]]
                entry[mode] = {
                    "p_real_key": ps[0],
                    "p_unrelated_keys": ps[1:],
                    "histogram_10_bins": np.histogram(ps, bins=10, range=(0, 1))[0].tolist(),
                    "share_below_0.05": float(np.mean(np.asarray(ps) < 0.05)),
                }
            nulls.append(entry)
            print(
                f"  null student {i}: "
                + "; ".join(
                    f"{mode}: real-key p {entry[mode]['p_real_key']:.3g}, "
                    f"share of {len(unrelated) + 1} keys below "
                    f"0.05 {entry[mode]['share_below_0.05']:.3f}"
                    for mode in MODES
                ),
                flush=True,
            )
            save()
            shutil.rmtree(student, ignore_errors=True)

    print("\npairs scored before p < 1e-5 (final p-value)")
    print("fraction" + "".join(f"{mode:>27}" for mode in MODES))
    for run in runs:
        print(
            f"{run['fraction']:>8.0%}"
            + "".join(
                f"{run[mode]['pairs_for_target']!s:>15} ({run[mode]['p_value']:>9.2g})" for mode in MODES
            )
        )
    print(f"wrote {save().relative_to(ROOT)}")


if __name__ == "__main__":
    main()
