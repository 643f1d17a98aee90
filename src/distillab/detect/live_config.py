"""`LiveDetectConfig`: the `distillab serve --detect-*` and `--indicator*` options of the gateway's live
detector (`distillab.gateway.detector`), validated once; `FollowConfig`: those and the options of the
detector follower (`distillab detect-follow`). Here, in a module of their own, so that building the
CLI imports neither the gateway nor the detector."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import documented as _f

ACTIONS = ("flag", "throttle", "degrade", "block")


@dataclass
class LiveDetectConfig:
    """What the gateway's live detector scores against, how often, and what it does to flagged accounts."""

    reference: Path | None = _f(
        None,
        "Honest reference log (.parquet/.jsonl, as for `distillab detect "
        "--reference`) to calibrate the live detector on; turns it on.",
    )
    action: str = _f(
        "throttle",
        "State a flagged account is put in: flag (recorded, state unchanged), "
        "throttle, degrade or block. Never lowers a state, never overrides an admin's.",
    )
    every: float = _f(30.0, "Seconds between scorings of all accounts and linked groups.")
    target_fpr: float = _f(0.001, "Largest false-positive rate on honest accounts per scoring (p-value cut).")
    fdr: float = _f(0.05, "Benjamini-Hochberg false-discovery rate across the accounts and groups scored.")
    indicators: Path | None = _f(
        None,
        "Indicator file from another provider (`distillab indicators export`): "
        "pre-flag accounts sending its campaigns' templates.",
    )
    indicator_key_file: Path | None = _f(None, "File with the sharing key the indicator file was made with.")
    indicator_min_requests: int = _f(5, "Requests matching one indicator before the action is applied.")
    embedder: str = _f(
        "auto",
        "Sentence embeddings of prompts for behavioural linking, as `distillab detect --embedder`: "
        "minilm, lexical or auto (minilm when installed). Live and offline agree when both use the "
        "same one.",
    )
    replay_hours: float = _f(
        24.0,
        "Hours of the store's request log folded in at start, so that a restarted "
        "gateway keeps its evidence (0: start from none). The follower does this at its "
        "first start only; later it resumes from its checkpoint.",
    )

    def __post_init__(self) -> None:
        self.reference = Path(self.reference) if self.reference is not None else None
        self.indicators = Path(self.indicators) if self.indicators is not None else None
        self.indicator_key_file = (
            Path(self.indicator_key_file) if self.indicator_key_file is not None else None
        )
        problems = []
        if self.action not in ACTIONS:
            problems.append(f"detect_action: must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        if not self.every > 0:
            problems.append(f"detect_every: must be > 0 seconds, got {self.every}")
        if not 0 < self.target_fpr < 1:
            problems.append(f"detect_target_fpr: must be in (0, 1), got {self.target_fpr}")
        if not 0 < self.fdr < 1:
            problems.append(f"detect_fdr: must be in (0, 1), got {self.fdr}")
        if self.indicator_min_requests < 1:
            problems.append(f"indicator_min_requests: must be >= 1, got {self.indicator_min_requests}")
        if self.embedder not in ("auto", "minilm", "lexical"):
            problems.append(f"detect_embedder: one of auto, minilm, lexical, got {self.embedder!r}")
        if not self.replay_hours >= 0:
            problems.append(f"detect_replay_hours: must be >= 0, got {self.replay_hours}")
        if self.reference is not None and not self.reference.is_file():
            problems.append(f"detect_reference: {self.reference} not found")
        if self.indicators is not None and not self.indicators.is_file():
            problems.append(f"indicators: {self.indicators} not found")
        if (self.indicators is None) != (self.indicator_key_file is None):
            problems.append("indicators and indicator_key_file: give both or neither")
        if problems:
            raise ConfigError(problems)

    @property
    def enabled(self) -> bool:
        return self.reference is not None or self.indicators is not None


@dataclass
class FollowConfig(LiveDetectConfig):
    """The detector follower (`distillab detect-follow`): the live detector's options, plus where the
    shared request log is and how the follower reads it."""

    db: str = _f("", "Gateway store the replicas share: a postgresql://... URL or a SQLite file.")
    name: str = _f(
        "detector",
        "Name this follower's position and state are saved under in the store; one "
        "process per name runs at a time (another one waits).",
    )
    batch: int = _f(5000, "Log rows read and folded at a time.")
    poll: float = _f(0.5, "Seconds between reads of the log once the follower has caught up.")
    checkpoint_every: float = _f(
        60.0,
        "Seconds between checkpoints (position and folded state, saved together): "
        "after a crash, at most this much of the log is folded again.",
    )
    settle: float = _f(
        30.0,
        "Seconds an id missing below newer ones (a row still being committed) is "
        "looked for before it is taken as never written.",
    )
    fresh: bool = _f(
        False,
        "Drop the saved position and state and start again from the last --detect-replay-hours "
        "of the log (after the log was replaced).",
    )

    def __post_init__(self) -> None:
        problems = []
        try:
            super().__post_init__()
        except ConfigError as exc:
            problems += exc.problems
        if not self.db:
            problems.append("db: required")
        if not self.name.strip():
            problems.append("name: must not be empty")
        if self.batch < 1:
            problems.append(f"batch: must be >= 1, got {self.batch}")
        for name in ("poll", "checkpoint_every", "settle"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}: must be > 0 seconds, got {getattr(self, name)}")
        if not self.enabled:
            problems.append("detect_reference or indicators: give at least one (what to detect with)")
        if problems:
            raise ConfigError(problems)
