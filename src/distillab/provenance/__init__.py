"""Prove distillation: keyed watermarks, radioactivity tests and black-box attribution, with exact p-values.

    from distillab.provenance import WatermarkConfig, Watermark, detect, run_radioactivity, run_attribution

The names are imported on first use: the serving settings import `WatermarkConfig`, and `distillab --help`
must not pay for torch or scipy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "WatermarkConfig": "config",
    "Watermark": "watermark",
    "Watermarker": "watermark",
    "detect": "detect",
    "detect_files": "detect_files",
    "RadioactivityConfig": "radioactivity_config",
    "run_radioactivity": "radioactivity",
    "AttributionConfig": "attribution_config",
    "run_attribution": "attribution",
    "TestResult": "evidence",
    "write_evidence": "report",
    "load_evidence": "report",
}

__all__ = [
    "AttributionConfig",
    "RadioactivityConfig",
    "TestResult",
    "Watermark",
    "WatermarkConfig",
    "Watermarker",
    "detect",
    "detect_files",
    "load_evidence",
    "run_attribution",
    "run_radioactivity",
    "write_evidence",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
