"""`distillab toy teacher|student|prompts`: build the tiny world's pieces on CPU, no downloads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import cast

import typer
from rich.console import Console

from distillab.toy.config import TeacherConfig, help_for

app = typer.Typer(
    help=(
        "Build the tiny world: a toy teacher, a student shaped like it, and task prompts.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab toy teacher --task arith --out runs/teacher\n"
        "  distillab toy student --like runs/teacher --out runs/student\n"
        "  distillab toy prompts --task arith --split test --n 200 --out prompts.jsonl"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(stderr=True)
_DEFAULT = TeacherConfig()


@app.command(
    help=(
        "Train a toy teacher on CPU (minutes), or copy it from the cache if it was built before.\n\n"
        "The arith teacher reaches >= 90% exact final-answer accuracy on the test split. Builds are cached\n"
        "in $DISTILLAB_CACHE/toy (default ~/.cache/distillab/toy), "
        "keyed by every option and the toy code.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab toy teacher --task arith --out runs/teacher\n"
        "  distillab toy teacher --task text --max-minutes 5 --out runs/text-teacher\n"
        "  distillab toy teacher --task arith --size tiny --steps 50 --out /tmp/t --force --no-cache"
    )
)
def teacher(
    out: Path = typer.Option(..., "--out", help="Directory to write the model to (must be new or empty)."),
    task: str = typer.Option(_DEFAULT.task, "--task", help=help_for("task")),
    size: str = typer.Option(_DEFAULT.size, "--size", help=help_for("size")),
    seed: int = typer.Option(_DEFAULT.seed, "--seed", help=help_for("seed")),
    steps: int | None = typer.Option(None, "--steps", help=help_for("steps")),
    batch_size: int = typer.Option(_DEFAULT.batch_size, "--batch-size", help=help_for("batch_size")),
    lr: float = typer.Option(_DEFAULT.lr, "--lr", help=help_for("lr")),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help=help_for("max_minutes")),
    eval_size: int = typer.Option(_DEFAULT.eval_size, "--eval-size", help=help_for("eval_size")),
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads for torch (default: all this process may use)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace --out, and rebuild even if cached."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Build straight into --out; neither read nor write the cache."
    ),
) -> None:
    # Idle OpenMP threads must sleep rather than spin: on a shared or busy CPU, spinning threads of a
    # tiny model's many small ops make training many times slower. Read once, when torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from distillab.toy.cache import copy_entry, prepare_out
    from distillab.toy.train_teacher import toy_teacher, train_teacher

    config = TeacherConfig(
        task=task,
        size=size,
        seed=seed,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        max_minutes=max_minutes,
        eval_size=eval_size,
    )
    if no_cache:
        prepare_out(out, force=force)
        train_teacher(config, out, threads=threads)
    else:
        prepare_out(out, force=force)  # fail before a long build, not after it
        entry = toy_teacher(config, force=force, threads=threads)
        copy_entry(entry, out, force=True)
        console.print(f"cache: {entry}", markup=False, highlight=False)
    info = json.loads((out / "toy_info.json").read_text())
    summary = {
        k: info[k]
        for k in ("task", "size", "steps_done", "parameters", "seconds", "arith_accuracy", "text_loss")
        if k in info
    }
    console.print(
        f"teacher: {out}  " + "  ".join(f"{k}={v}" for k, v in summary.items()), markup=False, highlight=False
    )


@app.command(
    help=(
        "Write a randomly initialised student for a teacher: "
        "same tokenizer, at most 1/4 of its parameters.\n\n"
        "Works for any Hugging Face causal LM directory with a config and a tokenizer; the student is a\n"
        "Llama model with half the layers (at least two) and the widest hidden size within the budget.\n"
        "The same builder as `distillab student --init random` (which takes an explicit shape instead):\n"
        "a model directory plus distillab_student.json.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab toy student --like runs/teacher --out runs/student\n"
        "  distillab toy student --like path/to/any-hf-model --out runs/student --max-ratio 0.1\n"
        "  distillab toy student --like runs/teacher --out runs/student2 --tokenizer other"
    )
)
def student(
    like: Path = typer.Option(..., "--like", help="Teacher model directory (config.json + tokenizer)."),
    out: Path = typer.Option(..., "--out", help="Directory to write the student to (must be new or empty)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the random initialisation."),
    max_ratio: float = typer.Option(0.25, "--max-ratio", help="Most student/teacher parameters allowed."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    tokenizer: str = typer.Option(
        "teacher",
        "--tokenizer",
        help="teacher (the teacher's own) or other (the tiny world's second tokenizer, for "
        "cross-tokenizer distillation).",
    ),
) -> None:
    from distillab.errors import ConfigError
    from distillab.models.random_init import random_student
    from distillab.toy.cache import prepare_out
    from distillab.toy.tokenizer import other_tokenizer

    problems = []
    if not 0 < max_ratio <= 1:
        problems.append(f"--max-ratio: must be in (0, 1], got {max_ratio}")
    if tokenizer not in ("teacher", "other"):
        problems.append(f"--tokenizer: must be teacher or other, got {tokenizer!r}")
    if problems:
        raise ConfigError(problems)
    prepare_out(out, force=force)
    own = other_tokenizer() if tokenizer == "other" else None
    result = random_student(like, out, seed=seed, max_ratio=max_ratio, tokenizer=own)
    console.print(result.summary(), markup=False, highlight=False)


@app.command(
    help=(
        "Write task prompts as JSONL, CSV or Parquet (by the extension of --out).\n\n"
        "Rows: id, messages ([{role: user, content}]) and, for arith, answer (the final number); for text,\n"
        "reference (the paragraph's true continuation). CSV has a prompt column instead of messages.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab toy prompts --task arith --split test --n 200 --out prompts.jsonl\n"
        "  distillab toy prompts --task text --split train --n 1000 --out text.parquet"
    )
)
def prompts(
    out: Path = typer.Option(..., "--out", help="Output file: .jsonl, .csv or .parquet."),
    task: str = typer.Option("arith", "--task", help="arith or text."),
    split: str = typer.Option("test", "--split", help="train or test (disjoint)."),
    n: int = typer.Option(100, "--n", help="Number of prompts."),
    seed: int = typer.Option(0, "--seed", help="Seed choosing which prompts."),
) -> None:
    from distillab.toy.arith import Split
    from distillab.toy.prompts import prompt_rows, write_rows

    rows = prompt_rows(task, cast(Split, split), n, seed)  # prompt_rows checks the split
    write_rows(rows, out)
    console.print(f"prompts: {len(rows)} {task} {split} rows -> {out}", markup=False, highlight=False)
