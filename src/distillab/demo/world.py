"""The contest's fixed pieces, built once and reused by every round, rerun and output directory.

They live in the tiny-world cache (`$DISTILLAB_CACHE/toy/contest-KEY/`, KEY from the teacher and seed), so a
second `distillab demo --out elsewhere` trains nothing it has trained before:

    teacher            the cached tiny teacher (`distillab toy teacher`, text task by default), the model the
                       provider serves
    student-init       a random student a quarter of its size: where every student starts
    watermark.key      the provider's watermark master key (random, made once, mode 600)
    honest-reference   honest traffic from another seed: the provider's known-good history the detector is
                       calibrated on (never the traffic it then judges)
    control            a student trained on the task's own reference answers (no teacher output): the
                       "innocent" model whose p-values must not be significant
    bystander          a second innocent student (other problems, other seed): the attribution test's control
                       reference, "as close as an unrelated model of the same kind would be"

Each piece records the settings it was built with (`.NAME.settings.json` beside it); a piece built with
other settings is rebuilt, a finished one is reused, and a killed training resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from distillab.atomic import write_text
from distillab.data.prompts import PromptRow
from distillab.data.written import write_harvest
from distillab.demo.config import ContestConfig
from distillab.teacher.base import Generation, Sample
from distillab.toy import arith
from distillab.toy.prompts import prompt_rows

TERMS = "Tiny-world teacher built locally by distillab; the user owns it and may distill it."
STUDENT_TRAIN: dict[str, Any] = {
    "batch_size": 16,
    "lr": 3e-3,
    "eval_fraction": 0.02,
    "kd_weight": 0.5,
    "save_every": 100,
    "max_length": 128,
}
"""How every contest student is trained (the attacker's with fkl where it has log-probabilities, the
innocent ones with sft on reference answers): the same optimiser and sequence budget (a prompt and a
64-token answer; longer reference answers are cut), so only their data differs."""


@dataclass(frozen=True)
class World:
    root: Path
    teacher: Path
    student_init: Path
    key_file: Path
    reference_log: Path
    control: Path
    bystander: Path


def cached(path: Path, settings: dict[str, Any], build: Callable[[], object], *, done: str) -> bool:
    """Run `build()` unless `path` (with `done` inside it, when given) exists and was made with `settings`;
    returns whether it ran.

    The settings are stamped next to `path` (`.NAME.settings.json`). A piece made with other settings is
    removed first. For a directory with a `done` marker the stamp is written before building, so a killed
    build with the same settings is resumed by `build`; a plain file is stamped once it is complete."""
    stamp = path.with_name(f".{path.name}.settings.json")
    wanted = json.dumps(settings, sort_keys=True, default=str)
    stamped = stamp.is_file() and stamp.read_text() == wanted
    if stamped and (path / done if done else path).exists():
        return False
    if not stamped:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if done:
        write_text(stamp, wanted)
    build()
    if not done:
        write_text(stamp, wanted)
    return True


def train_student(
    data: Path, init: Path, out: Path, *, steps: int, seed: int, loss: str, console: Console
) -> Path:
    """Train a copy of `init` on the harvest in `data` into `out` (resuming a killed run); returns `out`."""
    from distillab.train.checkpoint import latest
    from distillab.train.config import TrainConfig
    from distillab.train.trainer import run_train

    settings = {
        "data": str(data),
        "init": str(init),
        "steps": steps,
        "seed": seed,
        "loss": loss,
        **STUDENT_TRAIN,
        "data_manifest": (data / "manifest.json").read_text(),
    }

    def build() -> None:
        resume = latest(out) is not None
        if not resume:
            shutil.rmtree(out, ignore_errors=True)
        config = TrainConfig(
            student=init,
            data=data,
            out=out,
            loss=loss,
            max_steps=steps,
            seed=seed,
            resume=resume,
            progress=console.is_terminal,
            **STUDENT_TRAIN,
        )
        run_train(config, console=console)

    cached(out, settings, build, done="distillab_train.json")
    return out


def reference_answers(out: Path, task: str, n: int, seed: int) -> Path:
    """A harvest of the task's own answers to `n` train-split prompts (no model involved): the worked
    solutions of arith problems, the true continuations of text passages."""
    rows, answers = [], []
    if task == "arith":
        pairs = [(p.id, p.prompt, p.answer) for p in arith.problems("train", n, seed)]
    else:
        pairs = [
            (r["id"], r["messages"][0]["content"], r["reference"])
            for r in prompt_rows(task, "train", n, seed)
        ]
    for pid, prompt, answer in pairs:
        rows.append(PromptRow([{"role": "user", "content": prompt}], pid, f"{task} seed {seed}"))
        answers.append(Generation([Sample(answer, "stop")], 0, 0))
    write_harvest(
        out,
        rows,
        answers,
        teacher=f"{task} reference answers",
        terms="The tiny world's own prompts and reference answers (no model output).",
    )
    return out


def build_world(config: ContestConfig, console: Console) -> World:
    from distillab.detect.simulate import SimulateConfig, simulate
    from distillab.toy.cache import cache_key, cache_root
    from distillab.toy.student import build_student
    from distillab.toy.train_teacher import toy_teacher

    teacher = toy_teacher(config.teacher, progress=console.is_terminal)
    root = cache_root() / f"contest-{cache_key({'teacher': teacher.name, 'seed': config.seed})}"
    root.mkdir(parents=True, exist_ok=True)
    info = json.loads((teacher / "toy_info.json").read_text())
    console.print(
        f"teacher: {teacher} ({info.get('parameters', 0):,} parameters, {config.task} task); the rest "
        f"of the world: {root}"
    )

    init = root / "student-init"
    cached(
        init,
        {"teacher": str(teacher), "seed": config.seed},
        lambda: build_student(teacher, init, seed=config.seed),
        done="config.json",
    )

    key = root / "watermark.key"
    if not key.is_file():
        write_text(key, secrets.token_hex(32) + "\n")
        key.chmod(0o600)

    reference = root / "honest-reference.parquet"
    settings = {"accounts": config.reference_accounts, "seed": config.seed + 1000, "days": 3.0}
    if cached(
        reference,
        settings,
        lambda: simulate(
            SimulateConfig(
                out=reference,
                accounts=config.reference_accounts,
                days=3.0,
                attacker_share=0.0,
                seed=config.seed + 1000,
                rate_limit_rpm=config.rpm,
            )
        ),
        done="",
    ):
        console.print(
            f"honest reference traffic: {config.reference_accounts} simulated accounts -> {reference}"
        )

    n = config.campaign_queries
    control_data = root / "control-data"
    cached(
        control_data,
        {"task": config.task, "n": n, "seed": config.seed + 1},
        lambda: reference_answers(control_data, config.task, n, config.seed + 1),
        done="manifest.json",
    )
    bystander_data = root / "bystander-data"
    cached(
        bystander_data,
        {"task": config.task, "n": n, "seed": config.seed + 2},
        lambda: reference_answers(bystander_data, config.task, n, config.seed + 2),
        done="manifest.json",
    )
    console.print("training the control student (reference answers, no teacher output)")
    control = train_student(
        control_data,
        init,
        root / "control",
        steps=config.steps,
        seed=config.seed + 1,
        loss="sft",
        console=console,
    )
    console.print("training the bystander student (other reference answers, other seed)")
    bystander = train_student(
        bystander_data,
        init,
        root / "bystander",
        steps=config.steps,
        seed=config.seed + 2,
        loss="sft",
        console=console,
    )
    return World(root, teacher, init, key, reference, control, bystander)
