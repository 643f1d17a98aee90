"""Distil a real instruct model on CPU, end to end, every stage the command a user types.

    python benchmarks/real_distill.py --teacher SmolLM2-135M-Instruct.Q4_1.gguf [--quick] [--out DIR]

Stages, each timed:

1. prompts: instructions built from Python's standard-library documentation (`distillab prompts stdlib`,
   each with its docstring as a reference answer), split into a training pool and a held-out task by
   module, plus questions the teacher writes itself (`distillab prompts synthesize --method magpie`
   against `distillab serve`), near-duplicates and held-out overlaps removed (`distillab prompts filter`);
2. harvest: `distillab generate` against `distillab serve --model TEACHER` with top-20 log-probabilities
   (records/s, completion tokens/s);
3. students: a depth-pruned student (`distillab student --layers`) and a narrower random one
   (`distillab student --init random`), sizes in parameters and bytes;
4. training (`distillab train`, equal steps each): the pruned student with forward KL on the stored top-k
   (`--loss fkl`) and with `--loss sft` on the same harvest, the random student with fkl, and the pruned
   student with fkl on the first quarter and half of the teacher's queries (the curve);
5. evaluation (`distillab eval` on the held-out task, the teacher given as the GGUF file so every model
   runs in-process): token agreement and KL under teacher forcing on the teacher's greedy answers, each
   model's loss on the held-out reference answers (docstrings: written by neither model) and the
   student's share of the teacher's gain over its untrained self, and tokens/s against the teacher's.

Numbers measured on SmolLM2 from its GGUF describe a dequantized 4-bit copy, not the upstream model.
Writes benchmarks/results/real_distill.json (``--quick``: real_distill_quick.json) after every stage, so a
cut-off run keeps what it measured. Reuses finished stages in ``--out`` (default runs/real-distill).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

from distill_curve import subset  # noqa: E402  (one way to cut a harvest to its first N queries)

from distillab.data.records import read_records  # noqa: E402
from distillab.serving.process import serve_process  # noqa: E402

SETTINGS = {
    "full": {  # picked to fit about 25 minutes on 2 shared CPU cores
        "train_prompts": 96,
        "synthesized": 24,
        "heldout": 16,
        "max_tokens": 64,
        "steps": 12,
        "eval_tokens": 48,
        "curve": (0.25, 0.5),
    },
    "quick": {
        "train_prompts": 16,
        "synthesized": 4,
        "heldout": 6,
        "max_tokens": 24,
        "steps": 3,
        "eval_tokens": 16,
        "curve": (0.5,),
    },
}


def distillab(*args: str, cwd: Path) -> str:
    """Run one distillab command as a user would; fail loudly with its output."""
    done = subprocess.run(
        [sys.executable, "-m", "distillab.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"distillab {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


class Stages:
    """Times each stage and writes the result JSON after each one."""

    def __init__(self, path: Path, result: dict[str, Any]):
        self.path, self.result = path, result

    def done(self, name: str, seconds: float, **numbers: Any) -> None:
        self.result["stages"][name] = {"seconds": round(seconds, 1), **numbers}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.result, indent=2) + "\n")
        print(f"{name}: {seconds:.0f} s {json.dumps(numbers)}", flush=True)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_rows(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))
    return path


def make_prompts(work: Path, url: str, teacher: Path, s: dict[str, Any]) -> dict[str, Any]:
    """The training prompts (stdlib + synthesized, filtered) and the held-out task (stdlib, by module)."""
    distillab("prompts", "stdlib", "--out", "stdlib", cwd=work)
    stdlib = rows(work / "stdlib" / "prompts.jsonl")
    modules = sorted({r["source"]["module"] for r in stdlib})
    heldout_modules = set(modules[1::5])  # every fifth module: the held-out questions share no module
    heldout = [r for r in stdlib if r["source"]["module"] in heldout_modules]
    pool = [r for r in stdlib if r["source"]["module"] not in heldout_modules]
    write_rows(work / "heldout.jsonl", heldout[:: max(1, len(heldout) // s["heldout"])][: s["heldout"]])
    write_rows(work / "pool.jsonl", pool[:: max(1, len(pool) // s["train_prompts"])][: s["train_prompts"]])
    started = time.monotonic()
    distillab(
        "prompts", "synthesize", "--teacher", url, "--tokenizer", str(teacher), "--method", "magpie",
        "--count", str(s["synthesized"]), "--max-tokens", "96", "--language", "en", "--out", "magpie",
        "--concurrency", "16", "--timeout", "900", "--no-progress", cwd=work,
    )  # fmt: skip
    synth_seconds = time.monotonic() - started
    synthesized = rows(work / "magpie" / "prompts.jsonl")
    distillab(
        "prompts", "filter", "--prompts", "pool.jsonl", "--prompts", "magpie/prompts.jsonl",
        "--heldout", "heldout.jsonl", "--out", "train", cwd=work,
    )  # fmt: skip
    manifest = json.loads((work / "train" / "manifest.json").read_text())
    return {
        "stdlib_prompts": len(stdlib),
        "stdlib_modules": len(modules),
        "heldout": len(rows(work / "heldout.jsonl")),
        "magpie_asked": s["synthesized"],
        "magpie_kept": len(synthesized),
        "magpie_kept_per_minute": round(60 * len(synthesized) / synth_seconds, 1),
        "filter": manifest["counts"],
        "train_prompts": len(rows(work / "train" / "prompts.jsonl")),
    }


def size(directory: Path) -> dict[str, Any]:
    meta = json.loads((directory / "distillab_student.json").read_text())
    disk = sum(f.stat().st_size for f in directory.iterdir() if f.suffix == ".safetensors")
    return {"parameters": meta["student_parameters"], "disk_bytes": disk, "ratio": meta["ratio"]}


def train(work: Path, student: str, data: str, out: str, loss: str, s: dict[str, Any]) -> dict[str, Any]:
    if (work / out / "distillab_train.json").is_file():
        return json.loads((work / out / "distillab_train.json").read_text())
    distillab(
        "train", "--student", student, "--data", data, "--out", out, "--loss", loss,
        *(["--kd-weight", "1.0"] if loss != "sft" else []),
        "--max-steps", str(s["steps"]), "--batch-size", "8", "--max-length", "256", "--lr", "3e-4",
        "--eval-fraction", "0", "--no-progress", cwd=work,
    )  # fmt: skip
    return json.loads((work / out / "distillab_train.json").read_text())


def evaluate(work: Path, model: str, baseline: str, teacher: Path, s: dict[str, Any]) -> dict[str, Any]:
    out = work / f"eval-{model}"
    first = next(work.glob("eval-*/answers/teacher"), None)
    if first is not None and not (out / "answers" / "teacher").exists():  # the teacher's answers, once
        (out / "answers").mkdir(parents=True, exist_ok=True)
        for path in first.parent.glob("teacher*"):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, out / "answers" / path.name)
    distillab(
        "eval", "--model", model, "--baseline", baseline, "--teacher", str(teacher),
        "--task", "heldout.jsonl", "--n", str(s["heldout"]), "--max-tokens", str(s["eval_tokens"]),
        "--top-logprobs", "20", "--speed-requests", "4", "--out", out.name, "--no-progress", cwd=work,
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    models, parity = report["models"], report["parity"]
    speed = {role: (m.get("speed") or {}).get("tokens_per_s") for role, m in models.items()}
    return {
        "top1_agreement": parity["model"]["token"].get("top1_agreement"),
        "kl": parity["model"]["token"].get("kl"),
        "untrained_top1_agreement": parity["baseline"]["token"].get("top1_agreement"),
        "untrained_kl": parity["baseline"]["token"].get("kl"),
        "reference_loss": models["model"]["reference_loss"],
        "untrained_reference_loss": models["baseline"]["reference_loss"],
        "teacher_reference_loss": models["teacher"]["reference_loss"],
        "share_of_teacher": parity["model"]["share_of_teacher"],
        "tokens_per_s": speed.get("model"),
        "teacher_tokens_per_s": speed.get("teacher"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--teacher", type=Path, required=True, help="teacher: a .gguf file or a model directory"
    )
    parser.add_argument("--quick", action="store_true", help="a few prompts and steps: checks the path works")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "real-distill")
    parser.add_argument("--layers", type=int, default=6, help="decoder layers the pruned student keeps")
    args = parser.parse_args()
    s = SETTINGS["quick" if args.quick else "full"]
    work = args.out.resolve() / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    teacher = args.teacher.resolve()
    result: dict[str, Any] = {
        "benchmark": "real_distill",
        "teacher": str(teacher),
        "note": "a GGUF teacher is a dequantized 4-bit copy, not the upstream model",
        "settings": s,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "stages": {},
    }
    stages = Stages(RESULTS / ("real_distill_quick.json" if args.quick else "real_distill.json"), result)
    total = time.monotonic()

    with serve_process(teacher, log=work / "serve.log") as url:
        started = time.monotonic()
        numbers = make_prompts(work, url, teacher, s)
        stages.done("prompts", time.monotonic() - started, **numbers)

        started = time.monotonic()
        distillab(
            "generate", "--teacher", url, "--prompts", "train/prompts.jsonl", "--out", "harvest", "--n", "1",
            "--max-tokens", str(s["max_tokens"]), "--top-logprobs", "20", "--concurrency", "16",
            "--timeout", "900", "--terms", "SmolLM2-135M-Instruct: Apache-2.0", "--no-progress", cwd=work,
        )  # fmt: skip
        seconds = time.monotonic() - started
        manifest = json.loads((work / "harvest" / "manifest.json").read_text())
        records, completion = manifest["counts"]["records"], manifest["tokens"]["completion"]
        stages.done(
            "harvest", seconds, records=records, completion_tokens=completion,
            records_per_s=round(records / seconds, 2), completion_tokens_per_s=round(completion / seconds, 1),
        )  # fmt: skip

    started = time.monotonic()
    distillab(
        "student",
        "--teacher",
        str(teacher),
        "--layers",
        str(args.layers),
        "--out",
        "pruned",
        "--force",
        cwd=work,
    )
    distillab(
        "student", "--teacher", str(teacher), "--init", "random", "--layers", "4", "--hidden", "256",
        "--out", "random", "--force", cwd=work,
    )  # fmt: skip
    stages.done(
        "students", time.monotonic() - started, pruned=size(work / "pruned"), random=size(work / "random")
    )

    prompt_ids = list(
        dict.fromkeys(read_records(work / "harvest", columns=["prompt_id"])["prompt_id"].to_pylist())
    )
    runs = {"fkl": ("pruned", "harvest", "fkl"), "sft": ("pruned", "harvest", "sft")}
    runs["random-fkl"] = ("random", "harvest", "fkl")
    for share in s["curve"]:
        name = f"fkl-{int(share * 100)}pct"
        cut = work / f"harvest-{int(share * 100)}pct"
        if not cut.exists():
            subset(work / "harvest", prompt_ids[: max(1, int(len(prompt_ids) * share))], cut)
        runs[name] = ("pruned", cut.name, "fkl")
    for name, (student, data, loss) in runs.items():
        started = time.monotonic()
        record = train(work, student, data, f"kd-{name}", loss, s)
        stages.done(
            f"train {name}",
            time.monotonic() - started,
            steps=record.get("steps"),
            trainer_seconds=record.get("seconds"),
        )

    evals: dict[str, Any] = {}
    for name, (student, data, _) in runs.items():
        started = time.monotonic()
        evals[name] = evaluate(work, f"kd-{name}", student, teacher, s)
        queries = json.loads((work / data / "manifest.json").read_text())["counts"]["prompts"]
        evals[name]["teacher_queries"] = queries
        stages.done(f"eval {name}", time.monotonic() - started, **evals[name])
    result["curve"] = sorted(
        (evals[n]["teacher_queries"], evals[n]["share_of_teacher"]) for n in evals if n.startswith("fkl")
    )
    stages.done("total", time.monotonic() - total)


if __name__ == "__main__":
    main()
