"""`DistillConfig`: what `distillab distill` runs, from flags and/or a YAML or TOML config file.

A config file holds the common settings at the top level and any other option of a stage in that
stage's section, with the same names as the stage's own command flags (dashes or underscores)::

    teacher: http://127.0.0.1:8000/v1
    student: runs/student-init
    prompts: prompts.jsonl
    out: runs/distill
    loss: fkl
    generate: {max_tokens: 128, concurrency: 16, terms: "our own model"}
    train: {epochs: 3, lr: 3.0e-4, batch_size: 16}
    eval: {task: arith, n: 300}

Flags given on the command line win over the file; the file wins over the defaults. Every problem
(unknown keys included) is reported together, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from distillab.config_file import read_mapping
from distillab.data.config import HarvestConfig
from distillab.errors import ConfigError
from distillab.evaluate.config import EvalConfig
from distillab.fields import documented as _f
from distillab.train.config import TrainConfig

STAGES = ("generate", "train", "eval")
STAGE_CONFIGS: dict[str, type] = {"generate": HarvestConfig, "train": TrainConfig, "eval": EvalConfig}
SET_BY_DISTILL = {
    "generate": {"teacher", "prompts", "out", "progress"},
    "train": {"student", "data", "out", "resume", "progress"},
    "eval": {"model", "out", "teacher", "baseline", "data", "progress"},
}
"""Stage options that `distill` fills in itself (paths inside OUT), so a file may not set them."""


@dataclass
class DistillConfig:
    """Teacher, student, prompts and output directory, plus per-stage options."""

    teacher: str = _f("", "Teacher: a model directory or an OpenAI-compatible base URL.")
    student: Path = _f(Path(), "Student model directory to start from (it is not modified).")
    prompts: Path = _f(Path(), "Prompt file (.jsonl, .csv or .parquet) to harvest the teacher's answers to.")
    out: Path = _f(Path(), "Run directory: data/, student/, eval/, config.yaml, stages.json.")
    loss: str = _f("fkl", "Training loss (sft for text-only teachers; fkl, rkl, gjsd, skl, tv with top-k).")
    task: str = _f("arith", "Evaluation task: a built-in name or a .jsonl file with 'answer' per line.")
    generate: dict[str, Any] = _f(None, "Other `distillab generate` options.")
    train: dict[str, Any] = _f(None, "Other `distillab train` options.")
    eval: dict[str, Any] = _f(None, "Other `distillab eval` options.")

    def __post_init__(self) -> None:
        self.student, self.prompts, self.out = Path(self.student), Path(self.prompts), Path(self.out)
        self.generate, self.train, self.eval = (
            dict(self.generate or {}),
            dict(self.train or {}),
            dict(self.eval or {}),
        )
        problems = [f"{name}: required" for name in ("teacher",) if not getattr(self, name)]
        problems += [
            f"{name}: required" for name in ("student", "prompts", "out") if getattr(self, name) == Path()
        ]
        for stage in STAGES:
            section: dict[str, Any] = getattr(self, stage)
            known = {f.name for f in fields(STAGE_CONFIGS[stage])}
            for key in list(section):
                name = key.replace("-", "_")
                section[name] = section.pop(key)
                if name not in known:
                    problems.append(f"{stage}.{key}: not an option of `distillab {stage}`")
                elif name in SET_BY_DISTILL[stage]:
                    problems.append(f"{stage}.{key}: set by distill itself")
        if not problems:
            problems += self._stage_problems()
        if problems:
            raise ConfigError(problems)

    def _stage_problems(self) -> list[str]:
        """Each stage's own validation, run now so a bad train option fails before the harvest."""
        problems = []
        for stage in STAGES:
            # Training refuses an --out that already holds a run; whether to resume it is decided when
            # the stage starts, so check the other options against an --out that cannot exist.
            extra = {"out": Path("/nonexistent/distillab-check")} if stage == "train" else {}
            try:
                self.stage_config(stage, **extra)
            except ConfigError as exc:
                problems += [f"{stage}: {problem}" for problem in exc.problems]
        return problems

    def stage_settings(self, stage: str) -> dict[str, Any]:
        """The stage's options with distill's paths filled in (not yet validated)."""
        out = self.out
        if stage == "generate":
            return {"teacher": self.teacher, "prompts": self.prompts, "out": out / "data", **self.generate}
        if stage == "train":
            return {
                "student": self.student,
                "data": out / "data",
                "out": out / "student",
                "loss": self.loss,
                **self.train,
            }
        return {
            "model": str(out / "student"),
            "out": out / "eval",
            "teacher": self.teacher,
            "baseline": str(self.student),
            "data": out / "data",
            "task": self.task,
            **self.eval,
        }

    def stage_config(self, stage: str, **extra: Any) -> Any:
        """The stage's own config object (validated: ``ConfigError`` on bad options)."""
        return STAGE_CONFIGS[stage](**{**self.stage_settings(stage), **extra})

    def to_dict(self) -> dict[str, Any]:
        return {
            "teacher": self.teacher,
            "student": str(self.student),
            "prompts": str(self.prompts),
            "out": str(self.out),
            "loss": self.loss,
            "task": self.task,
            "generate": self.generate,
            "train": self.train,
            "eval": self.eval,
        }


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a .yaml/.yml/.toml/.json config file, checked against `DistillConfig`'s options."""
    data = read_mapping(path)
    known = {f.name for f in fields(DistillConfig)}
    unknown = [
        f"{path}: unknown option {key!r} (known: {', '.join(sorted(known))})"
        for key in data
        if key.replace("-", "_") not in known
    ]
    if unknown:
        raise ConfigError(unknown)
    normal = {key.replace("-", "_"): value for key, value in data.items()}
    for stage in STAGES:
        section = normal.get(stage)
        if section is not None and not isinstance(section, dict):
            raise ConfigError(f"{path}: {stage!r} must be a mapping of {stage} options")
        if section:
            normal[stage] = {key.replace("-", "_"): value for key, value in section.items()}
    return normal


def resolve(file: Path | None, flags: dict[str, Any]) -> DistillConfig:
    """Defaults < config file < flags given on the command line (None means "not given")."""
    merged = read_config_file(file) if file else {}
    for key, value in flags.items():
        if value is None:
            continue
        if key in STAGES:
            merged[key] = {**(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    return DistillConfig(**merged)
