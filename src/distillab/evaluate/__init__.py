"""Evaluation: task accuracy with verifiers, student-vs-teacher parity, efficiency, and the report.

``run_eval`` is imported on first use, so importing ``distillab.evaluate.config`` (as the CLI does to
build its flags) does not load torch.
"""

from __future__ import annotations

from typing import Any

from distillab.evaluate.config import EvalConfig

__all__ = ["EvalConfig", "run_eval"]


def __getattr__(name: str) -> Any:
    if name == "run_eval":
        from distillab.evaluate.run import run_eval

        return run_eval
    raise AttributeError(f"module 'distillab.evaluate' has no attribute {name!r}")
