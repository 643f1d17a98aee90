"""`ContestConfig`: the size of `distillab demo`'s contest and the defenses it compares."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from distillab.errors import ConfigError
from distillab.fields import documented as _f
from distillab.toy.config import TeacherConfig

METRICS = {
    "text": "share of the teacher's skill",
    "arith": "held-out accuracy",
    "stdlib": "share of the teacher's skill",
}
"""The contest's tasks and what a student's score is on each: on the text and stdlib tasks, its held-out
loss on reference answers written by neither model (real text's continuations; the standard library's
docstrings) as a share of the teacher's gain over the untrained student (`distillab.evaluate.reference`);
arith problems are checked."""
WORLDS = ("tiny", "smollm2")
"""tiny: the teacher distillab trains itself (`distillab toy teacher`), random quarter-size students;
smollm2: SmolLM2-135M-Instruct's 4-bit GGUF as the teacher (`make real-model`), questions about the
standard library (`distillab prompts stdlib`), students pruned from it (`distillab student --layers`), and a
campaign that shares no metadata and paces itself like honest power users."""
REAL_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
WORLD_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {},
    # Sized to fit 30 minutes on 2 CPU cores from a warm cache: the 4-bit teacher answers about 16
    # tokens/s under load, and a step of the pruned 6-layer student takes seconds (docs/contest.md).
    "smollm2": {
        "defenses": ("detect+degrade",),
        "campaign_accounts": 12,
        "campaign_queries": 160,
        "honest_accounts": 30,
        "honest_requests": 40,
        "degrade_max_tokens": 8,
        "steps": 30,
        "curve_points": (0.5,),
        "eval_items": 60,
        "attribution_prompts": 12,
        "attribution_samples": 4,
        "radioactivity_texts": 60,
        "membership_prompts": 30,
        "membership_samples": 2,
    },
}
"""Each world's defaults where they differ from the tiny world's (`ContestConfig.for_world`)."""


def real_model_path() -> Path:
    """Where `make real-model` (scripts/fetch_real_model.py) keeps SmolLM2's GGUF."""
    cache = os.environ.get("DISTILLAB_CACHE")
    return (Path(cache) if cache else Path.home() / ".cache" / "distillab") / "real" / REAL_MODEL_FILE


DEFENSES = ("off", "detect", "detect+degrade")
"""off: the gateway only serves and logs; detect: the live detector flags (states unchanged);
detect+degrade: flagged accounts are degraded (no log-probabilities, short answers)."""


@dataclass
class ContestConfig:
    """What the contest runs. The defaults fit in minutes on 2 CPU cores once the tiny world is cached."""

    out: Path = _f(
        Path("runs/demo"), "Directory for everything the demo writes (world/ is reused by reruns)."
    )
    world: str = _f(
        "tiny",
        "The world the contest is played in: " + ", ".join(WORLDS) + " (smollm2 needs `make real-model`).",
    )
    real_model: Path | None = _f(
        None,
        "smollm2 world: the teacher's GGUF file (default: where `make real-model` puts it, "
        f"$DISTILLAB_CACHE/real/{REAL_MODEL_FILE}).",
    )
    defenses: tuple[str, ...] = _f(
        ("off", "detect+degrade"),
        "Defenses to run, each a separate contest round: " + ", ".join(DEFENSES) + ".",
    )
    campaign_accounts: int = _f(30, "Accounts the distillation campaign spreads its queries over.")
    campaign_queries: int = _f(800, "Teacher queries the campaign sends (train-split prompts of the task).")
    honest_accounts: int = _f(60, "Simulated honest accounts using the gateway at the same time.")
    honest_requests: int = _f(
        200,
        "Requests the honest accounts send (each account's first ones, spread over the "
        "accounts, in time order).",
    )
    reference_accounts: int = _f(
        1000,
        "Honest accounts in the reference traffic the detector is calibrated on "
        "(simulated with another seed: the provider's known-good history).",
    )
    rpm: int = _f(
        60, "The gateway's per-account rate limit (requests per minute); the campaign stays under it."
    )
    degrade_max_tokens: int = _f(
        12, "Longest answer a degraded account gets (a full answer is up to 64 tokens)."
    )
    detect_every: float = _f(3.0, "Seconds between the live detector's scorings.")
    watermark_delta: float = _f(
        1.0,
        "Watermark bias added to green-list logits "
        "(1: a small quality cost, still a strong mark on free text).",
    )
    steps: int = _f(
        400,
        "Optimizer steps for a student trained on the whole harvest (attacker's, control, "
        "bystander); the extraction curve's students get the same passes over less data.",
    )
    curve_points: tuple[float, ...] = _f(
        (0.25, 0.5),
        "Extraction curve: in the first round, besides the full "
        "harvest, students trained on these shares of it (first "
        "queries first).",
    )
    eval_items: int = _f(100, "Held-out prompts every model answers for its score.")
    attribution_prompts: int = _f(60, "Held-out prompts the attribution test samples every model on.")
    attribution_samples: int = _f(10, "Completions per prompt and model for the attribution test.")
    radioactivity_texts: int = _f(
        300, "Held-out prompts whose plain teacher answers the suspect reads (radioactivity, open mode)."
    )
    membership_prompts: int = _f(100, "Served campaign answers the membership test checks, per round.")
    membership_samples: int = _f(3, "Fresh teacher answers per served prompt for the membership test.")
    seed: int = _f(0, "Seed of the simulated traffic and the students.")
    teacher: TeacherConfig = field(
        default_factory=lambda: TeacherConfig(task="text"),
        metadata={"help": "The tiny teacher to build or reuse (`distillab toy teacher`)."},
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        # Each item may itself be a comma-separated list (`--defense off,detect`).
        items = (self.defenses,) if isinstance(self.defenses, str) else self.defenses
        self.defenses = tuple(d.strip() for item in items for d in item.split(",") if d.strip())
        if self.real_model is not None:
            self.real_model = Path(self.real_model)
        problems = []
        if self.world not in WORLDS:
            problems.append(f"world: {self.world!r}; choose from {', '.join(WORLDS)}")
        elif self.world != "tiny" and not self.teacher_file.is_file():
            problems.append(
                f"real_model: {self.teacher_file} is not a file (run `make real-model`, or give the GGUF)"
            )
        unknown = [d for d in self.defenses if d not in DEFENSES]
        if unknown or not self.defenses:
            problems.append(
                f"defense: {', '.join(map(repr, unknown)) or 'none given'}; choose from "
                f"{', '.join(DEFENSES)} (comma-separated)"
            )
        if len(set(self.defenses)) != len(self.defenses):
            problems.append("defense: one is named twice")
        for name in (
            "campaign_accounts",
            "campaign_queries",
            "honest_accounts",
            "reference_accounts",
            "rpm",
            "degrade_max_tokens",
            "steps",
            "eval_items",
            "attribution_prompts",
            "radioactivity_texts",
            "membership_prompts",
            "membership_samples",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.honest_requests < 0:
            problems.append(f"honest_requests: must be >= 0, got {self.honest_requests}")
        if self.attribution_samples < 2:
            problems.append(f"attribution_samples: must be >= 2, got {self.attribution_samples}")
        if not self.detect_every > 0:
            problems.append(f"detect_every: must be > 0, got {self.detect_every}")
        if not self.watermark_delta > 0:
            problems.append(f"watermark_delta: must be > 0, got {self.watermark_delta}")
        if any(not 0 < p < 1 for p in self.curve_points):
            problems.append(f"curve_points: each must be in (0, 1), got {list(self.curve_points)}")
        if self.campaign_queries < self.campaign_accounts:
            problems.append(
                f"campaign_queries ({self.campaign_queries}) must be >= campaign_accounts "
                f"({self.campaign_accounts})"
            )
        if self.teacher.task not in ("arith", "text"):
            problems.append(
                f"teacher.task: the tiny world's contest runs on arith or text, got {self.teacher.task!r}"
            )
        if problems:
            raise ConfigError(problems)

    @classmethod
    def for_world(cls, world: str, **settings: Any) -> ContestConfig:
        """The config of a contest in `world`: that world's defaults (`WORLD_SIZES`), then `settings`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError([f"{name}: not a contest setting" for name in unknown])
        return cls(**{**WORLD_SIZES.get(world, {}), **settings, "world": world})

    @property
    def teacher_file(self) -> Path:
        """The real world's teacher (the GGUF file); unused in the tiny world."""
        return self.real_model or real_model_path()

    @property
    def task(self) -> str:
        return self.teacher.task if self.world == "tiny" else "stdlib"

    @property
    def metric(self) -> str:
        """What the students' score measures, in words."""
        return METRICS[self.task]
