"""Training: distillation losses (``distillab.train.losses``), config, data collation and the trainer.

    from distillab.train import TrainConfig, run_train
    result = run_train(TrainConfig(student=..., data=..., out=..., loss="fkl"))

``run_train`` and ``TrainResult`` are loaded on first use, so ``import distillab.train.losses`` (and
``distillab --help``) do not pull in accelerate and the model stack.
"""

from __future__ import annotations

from typing import Any

from distillab.train.config import TrainConfig

__all__ = ["TrainConfig", "TrainResult", "run_train"]


def __getattr__(name: str) -> Any:
    if name in ("run_train", "TrainResult"):
        from distillab.train import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'distillab.train' has no attribute {name!r}")
