"""`distillab distill`: generate, train and eval in one resumable run directory."""

from distillab.distill.config import DistillConfig, resolve
from distillab.distill.run import DistillResult, run_distill

__all__ = ["DistillConfig", "DistillResult", "resolve", "run_distill"]
