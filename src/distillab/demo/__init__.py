"""`distillab demo`: the tiny world's contest (`run_contest`) and its distillation path alone (`run_demo`).

    from distillab.demo import ContestConfig, run_contest
    summary = run_contest(ContestConfig(out=Path("runs/demo")))

Names are imported on first use, so building the CLI does not pay for torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "ContestConfig": "config",
    "run_contest": "contest",
    "DemoConfig": "distill_path",
    "run_demo": "distill_path",
}

__all__ = ["ContestConfig", "DemoConfig", "run_contest", "run_demo"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
