"""A logits processor for engine tests: bans the end-of-sequence tokens, so a sample runs to its budget."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class NoEos:
    """Bans the end-of-sequence tokens, so a sample runs to its token budget."""

    width = 0

    def __init__(self, eos_ids: set[int]):
        self.eos = sorted(eos_ids)

    def apply(self, logits: torch.Tensor, previous: Sequence[Sequence[int]]) -> torch.Tensor:
        logits[:, self.eos] = float("-inf")
        return logits
