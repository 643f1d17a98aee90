"""What the engine is asked and what it reports while it works: requests, token events, logits processors.

Shared by the engine (`distillab.models.generate`), the running batch (`distillab.models.running`) and the
asyncio front (`distillab.models.batcher`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch

from distillab.models.samples import SamplingParams


class LogitsProcessor(Protocol):
    """Rewrites one row's next-token logits before sampling, from the ids that came before."""

    @property
    def width(self) -> int:
        """How many of the last ids it reads (the engine passes at most these)."""
        ...

    def apply(self, logits: torch.Tensor, previous: Sequence[Sequence[int]]) -> torch.Tensor:
        """float [B, V] logits for rows [B, V] whose preceding ids are `previous[b]`."""
        ...


@dataclass
class TokenEvent:
    """One generated token of one sample, reported while generation runs (for streaming)."""

    index: int
    """Sample index within the request (0..n-1)."""
    token_id: int
    logprob: float
    top_ids: list[int]
    top_logprobs: list[float]
    text: str
    """Text that became visible with this token (may be empty: held back, or a partial character)."""
    finish_reason: str | None
    """"stop" or "length" on the sample's last token, else None."""


@dataclass
class EngineRequest:
    """One prompt to complete `n` times. `on_event` is called from the engine's thread."""

    prompt_ids: list[int]
    params: SamplingParams = field(default_factory=SamplingParams)
    n: int = 1
    on_event: Callable[[TokenEvent], None] | None = None
    cancelled: bool = False
    """Set (from any thread) to stop generating for this request, e.g. when a streaming client left."""
    processor: LogitsProcessor | None = None
    """Applied to this request's logits at every step (e.g. a watermark, `distillab.provenance.watermark`)."""
