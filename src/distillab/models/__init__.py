"""The one model layer: load (HF directory or GGUF), teacher-forced scoring, batched generation.

    from distillab.models import Engine, load_model, score
    model, tokenizer = load_model("runs/teacher")            # or a .gguf file, converted once and cached
    scored = score(model, [tokenizer("some text")["input_ids"]], top_k=5)
    engine = Engine(model, tokenizer)                        # batched sampling with logits processors

Every package that touches a model's weights goes through here. Names are imported on first use
(PEP 562), so `distillab.models.samples` (which the OpenAI wire format and the gateway read) does not pull
in torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Batcher": "batcher",
    "Engine": "generate",
    "EngineRequest": "requests",
    "Generation": "samples",
    "LogitsBatch": "scoring",
    "LogitsProcessor": "requests",
    "Sample": "samples",
    "SamplingParams": "samples",
    "Scored": "scoring",
    "TokenEvent": "requests",
    "convert_gguf": "load",
    "forward_logits": "scoring",
    "load_model": "load",
    "load_tokenizer": "load",
    "model_dir": "load",
    "score": "scoring",
}
__all__ = [
    "Batcher",
    "Engine",
    "EngineRequest",
    "Generation",
    "LogitsBatch",
    "LogitsProcessor",
    "Sample",
    "SamplingParams",
    "Scored",
    "TokenEvent",
    "convert_gguf",
    "forward_logits",
    "load_model",
    "load_tokenizer",
    "model_dir",
    "score",
]

if TYPE_CHECKING:
    from distillab.models.batcher import Batcher
    from distillab.models.generate import Engine
    from distillab.models.load import convert_gguf, load_model, load_tokenizer, model_dir
    from distillab.models.requests import EngineRequest, LogitsProcessor, TokenEvent
    from distillab.models.samples import Generation, Sample, SamplingParams
    from distillab.models.scoring import LogitsBatch, Scored, forward_logits, score


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"distillab.models.{_EXPORTS[name]}"), name)
