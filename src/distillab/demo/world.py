"""The contest's world: its fixed pieces, built once and reused by every round, rerun and output directory.

A world decides the teacher the provider serves, the task's prompts (train split for the campaign and the
innocent students, test split for every score and proof), the students' starting point, how they train,
and how the campaign behaves; the round, the proofs and the report run the same code in every world.
`build_world` builds the one `ContestConfig.world` names: the tiny one here, SmolLM2's in
`distillab.demo.real_world`. Each lives in a cache directory (`$DISTILLAB_CACHE/toy/contest-KEY/`, KEY from
the teacher and seed), so a second `distillab demo --out elsewhere` trains nothing it has trained before:

    teacher            the model the provider serves (tiny: the cached `distillab toy teacher`, text task by
                       default; smollm2: the GGUF file itself)
    student-init       where every student starts (tiny: random, a quarter of the teacher's size; smollm2:
                       the teacher's layers pruned to `PRUNED_LAYERS`, as `distillab student --layers`)
    watermark.key      the provider's watermark master key (random, made once, mode 600)
    honest-reference   honest traffic from another seed: the provider's known-good history the detector is
                       calibrated on (never the traffic it then judges)
    control            a student trained on the task's own reference answers (no teacher output): the
                       "innocent" model whose p-values must not be significant
    bystander          a second innocent student (other prompts, other seed): the attribution test's control
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
from random import Random
from typing import Any, Literal

from rich.console import Console

from distillab.atomic import write_text
from distillab.data.prompts import PromptRow
from distillab.data.written import write_harvest
from distillab.demo.config import ContestConfig
from distillab.demo.traffic import CampaignStyle
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
class Task:
    """The world's prompts: the tiny world's built-in task, or a prompt file (rows with `messages`, `id`,
    `reference` and `source.module`) split by module, every fifth module held out as the test split."""

    name: str
    prompts: Path | None = None

    def rows(self, split: Literal["train", "test"], n: int, seed: int) -> list[dict[str, Any]]:
        """`n` prompt rows of `split`, deterministic for a seed (fewer when the split has fewer)."""
        if self.prompts is None:
            return prompt_rows(self.name, split, n, seed)
        rows = [json.loads(line) for line in self.prompts.read_text().splitlines() if line.strip()]
        modules = sorted({r["source"]["module"] for r in rows})
        test = set(modules[1::5])
        pool = [r for r in rows if (r["source"]["module"] in test) == (split == "test")]
        chosen = sorted(Random(f"{self.name}:{split}:{seed}").sample(range(len(pool)), min(n, len(pool))))
        return [{k: pool[i][k] for k in ("id", "messages", "reference")} for i in chosen]


@dataclass(frozen=True)
class World:
    name: str
    root: Path
    teacher: Path
    student_init: Path
    task: Task
    model_name: str
    """The name the gateway serves the teacher under."""
    max_tokens: int
    """Longest answer anyone asks the teacher for (campaign, honest users, proofs)."""
    campaign: CampaignStyle
    train: dict[str, Any]
    """How every student of this world is trained (`TrainConfig` fields besides the data and steps)."""

    @property
    def key_file(self) -> Path:
        return self.root / "watermark.key"

    @property
    def reference_log(self) -> Path:
        return self.root / "honest-reference.parquet"

    @property
    def control(self) -> Path:
        return self.root / "control"

    @property
    def bystander(self) -> Path:
        return self.root / "bystander"


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
    data: Path,
    init: Path,
    out: Path,
    *,
    steps: int,
    seed: int,
    loss: str,
    train: dict[str, Any],
    console: Console,
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
        **train,
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
            **train,
        )
        run_train(config, console=console)

    cached(out, settings, build, done="distillab_train.json")
    return out


def reference_answers(out: Path, task: Task, n: int, seed: int) -> Path:
    """A harvest of the task's own answers to `n` train-split prompts (no model involved): the worked
    solutions of arith problems, the true continuations of text passages, the standard library's
    docstrings."""
    rows, answers = [], []
    if task.name == "arith":
        pairs = [(p.id, p.prompt, p.answer) for p in arith.problems("train", n, seed)]
    else:
        pairs = [(r["id"], r["messages"][0]["content"], r["reference"]) for r in task.rows("train", n, seed)]
    for pid, prompt, answer in pairs:
        rows.append(PromptRow([{"role": "user", "content": prompt}], pid, f"{task.name} seed {seed}"))
        answers.append(Generation([Sample(answer, "stop")], 0, 0))
    write_harvest(
        out,
        rows,
        answers,
        teacher=f"{task.name} reference answers",
        terms="The task's own prompts and reference answers (no model output).",
    )
    return out


def build_world(config: ContestConfig, console: Console) -> World:
    """The world `config.world` names, built or reused."""
    if config.world == "smollm2":
        from distillab.demo.real_world import build_smollm2

        return build_smollm2(config, console)
    return build_tiny(config, console)


def build_tiny(config: ContestConfig, console: Console) -> World:
    from distillab.models.random_init import random_student
    from distillab.toy.cache import cache_key, cache_root
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
        lambda: random_student(teacher, init, seed=config.seed, max_ratio=0.25),
        done="config.json",
    )
    return innocents(
        config,
        console,
        World(
            name="tiny",
            root=root,
            teacher=teacher,
            student_init=init,
            task=Task(config.task),
            model_name="tiny-teacher",
            max_tokens=64,
            campaign=CampaignStyle(),
            train=STUDENT_TRAIN,
        ),
    )


def innocents(config: ContestConfig, console: Console, world: World) -> World:
    """Make what every world has besides its teacher and student: the watermark key, the honest reference
    traffic, and the control and bystander students (trained on the task's reference answers)."""
    from distillab.detect.simulate import SimulateConfig, simulate

    if not world.key_file.is_file():
        write_text(world.key_file, secrets.token_hex(32) + "\n")
        world.key_file.chmod(0o600)

    reference = world.reference_log
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
    for role, offset, model in (
        ("control", 1, world.control),
        ("bystander", 2, world.bystander),
    ):
        data = world.root / f"{role}-data"
        seed = config.seed + offset

        def answers(data: Path = data, seed: int = seed) -> Path:
            return reference_answers(data, world.task, n, seed)

        cached(data, {"task": world.task.name, "n": n, "seed": seed}, answers, done="manifest.json")
        console.print(
            f"training the {role} student (the task's reference answers, no teacher output; seed "
            f"{config.seed + offset})"
        )
        train_student(
            data,
            world.student_init,
            model,
            steps=config.steps,
            seed=config.seed + offset,
            loss="sft",
            train=world.train,
            console=console,
        )
    return world
