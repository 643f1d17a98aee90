"""Serving a causal LM over the OpenAI API: the FastAPI app over `distillab.models` (engine, batcher).

    from distillab.models import Engine
    from distillab.serving import create_app, run_in_background
    app = create_app(Engine.load("runs/teacher"), model_name="teacher")
    with run_in_background(app) as base_url: ...

From the command line: `distillab serve --model runs/teacher`.

Names are imported on first use (PEP 562), so `distillab.serving.settings` (which the CLI reads for its
flags) does not pull in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ServeSettings": "settings",
    "ServingState": "app",
    "create_app": "app",
    "openai_router": "app",
    "run_in_background": "background",
}
__all__ = [
    "ServeSettings",
    "ServingState",
    "create_app",
    "openai_router",
    "run_in_background",
]

if TYPE_CHECKING:
    from distillab.serving.app import ServingState, create_app, openai_router
    from distillab.serving.background import run_in_background
    from distillab.serving.settings import ServeSettings


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"distillab.serving.{_EXPORTS[name]}"), name)
