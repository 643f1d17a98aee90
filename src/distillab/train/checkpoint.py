"""Resumable checkpoints: ``OUT/checkpoints/step-NNNNNN/``, exact to the bit on the same setup.

What makes resume exact: ``Accelerator.save_state`` stores the model, optimizer and every RNG state
(and the scheduler, registered for checkpointing), and the rest is a pure function of the step: data
order (``collate.micro_batch``), which batches are on-policy and their sampling seed. ``state.json``
holds the step, counters and the config the run was started with; a resume with different
weight-changing settings is refused rather than silently producing a different model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from distillab.errors import ConfigError
from distillab.train.config import RUN_ONLY, TrainConfig

STATE = "state.json"


class _TiedWeightsNotice(logging.Filter):
    """Drops accelerate's "Removed shared tensor ... while saving" warning, printed at every checkpoint of
    a model with tied input/output embeddings: the tie is restored on load (the resume tests check it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


logging.getLogger("accelerate.utils.other").addFilter(_TiedWeightsNotice())


RECENT = 20
"""Steps averaged into the reported training loss."""


@dataclass
class Progress:
    """Counters that must survive a resume, so the record of a resumed run reads like an uninterrupted one."""

    step: int = 0
    tokens: int = 0
    """Non-padding tokens trained on, all processes."""
    seconds: float = 0.0
    """Training time so far, earlier runs of a resumed training included."""
    recent: list[float] = field(default_factory=list)
    """Loss of the last ``RECENT`` optimizer steps."""
    evals: list[dict[str, float]] = field(default_factory=list)

    def add_step(self, loss: float, tokens: int, seconds: float) -> None:
        self.step += 1
        self.tokens += tokens
        self.seconds = seconds
        self.recent = (self.recent + [loss])[-RECENT:]

    @property
    def train_loss(self) -> float:
        return sum(self.recent) / len(self.recent) if self.recent else float("nan")


def checkpoint_dir(out: Path, step: int) -> Path:
    return out / "checkpoints" / f"step-{step:06d}"


def save(accelerator: Accelerator, out: Path, progress: Progress, config: TrainConfig) -> Path:
    """Write the checkpoint for ``progress.step``; the state file goes last, marking it complete."""
    path = checkpoint_dir(out, progress.step)
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        tmp = path / f".{STATE}.tmp"
        state = {"progress": asdict(progress), "config": config.to_dict()}
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(path / STATE)
    accelerator.wait_for_everyone()
    return path


def latest(out: Path) -> Path | None:
    """The newest complete checkpoint in ``out`` (one whose state file was written), or None."""
    done = [p for p in (out / "checkpoints").glob("step-*") if (p / STATE).is_file()]
    return max(done, key=lambda p: p.name) if done else None


def load(accelerator: Accelerator, out: Path, config: TrainConfig) -> Progress:
    """Restore the newest checkpoint into the prepared objects; ``ConfigError`` if none or incompatible."""
    path = latest(out)
    if path is None:
        raise ConfigError(f"--resume: no complete checkpoint in {out / 'checkpoints'}")
    stored: dict[str, Any] = json.loads((path / STATE).read_text())
    now = config.to_dict()
    diffs = [
        f"--{k.replace('_', '-')}: {stored['config'].get(k)!r} -> {now[k]!r}"
        for k in sorted(now)
        if k not in (*RUN_ONLY, "out") and stored["config"].get(k) != now[k]
    ]
    if diffs:
        raise ConfigError(
            f"--resume: {path} was made with different settings ({'; '.join(diffs)}); "
            "resume with the same flags, or start a new --out"
        )
    accelerator.load_state(str(path))
    return Progress(**stored["progress"])
