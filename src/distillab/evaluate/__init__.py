"""Evaluation: task accuracy with verifiers, student-vs-teacher parity, efficiency, and the report."""

from distillab.evaluate.config import EvalConfig
from distillab.evaluate.run import run_eval

__all__ = ["EvalConfig", "run_eval"]
