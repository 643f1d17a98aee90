"""`distillab simulate`: honest and distillation-campaign traffic as request-log records, with labels apart.

    from distillab.detect.simulate import SimulateConfig, simulate
    result = simulate(SimulateConfig(out=Path("traffic.jsonl"), accounts=300, days=3, attacker_share=0.05))

`simulate` writes a file; `drive` sends the same traffic to a running gateway. Both are imported on first
use, so importing `SimulateConfig` (as the CLI does to build its flags) does not load numpy.
See docs/simulate.md.
"""

from __future__ import annotations

from typing import Any

from distillab.detect.simulate.config import CAMPAIGNS, PERSONAS, SimulateConfig

__all__ = [
    "CAMPAIGNS",
    "PERSONAS",
    "DriveResult",
    "SimulateConfig",
    "SimulationResult",
    "Traffic",
    "drive",
    "read_labels",
    "simulate",
]
_LAZY = {
    "simulate": "run",
    "SimulationResult": "run",
    "Traffic": "run",
    "drive": "live",
    "DriveResult": "live",
    "read_labels": "files",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"distillab.detect.simulate.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'distillab.detect.simulate' has no attribute {name!r}")
