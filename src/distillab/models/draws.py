"""Token ids drawn from a model's own next-token distribution: the sampled distillation signal.

Top-k caching keeps the teacher's most likely ids and drops the rest, which biases a student trained
on it (arXiv 2503.16870). Drawing K ids per position from the full distribution instead, at
temperature 1 (the distribution a forward-KL loss targets), gives an unbiased estimate of the
cross-entropy to the teacher: ``-(1/K) sum_k log q(x_k)`` with ``x_k ~ p``. About 12 draws per position
match full-vocabulary KD in that paper. Per position we keep the distinct ids (ascending) with how
often each was drawn, and the distribution's entropy, so the loss can report KL = CE - H exactly
where the top-k form can only bound it.

Reproducible: each sequence draws from its own generator, seeded by ``draw_seed(seed, ids)`` from the
run's seed and the sequence's own prompt ids (so two prompts with the same seed do not share random
numbers), separate from the generator that samples the text (so asking for draws changes no text).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import torch


def draw_seed(seed: int | None, ids: Sequence[int]) -> int:
    """A 63-bit seed from ``seed`` and the token ids that identify a sequence; random when seed is None."""
    if seed is None:
        return secrets.randbits(63)
    digest = hashlib.sha256(f"distillab draws:{seed}:{','.join(map(str, ids))}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def draw_generator(seed: int | None, ids: Sequence[int], device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(draw_seed(seed, ids))
    return generator


@dataclass
class Draws:
    """Per position: the distinct ids drawn (ascending), how often each was drawn, and the entropy."""

    ids: list[list[int]]
    counts: list[list[int]]
    entropy: list[float]
    """Nats, of the distribution the ids were drawn from."""


def entropy(logprobs: torch.Tensor) -> torch.Tensor:
    """``[N, V]`` log-probabilities -> ``[N]`` entropies in nats (``-inf`` entries count as 0)."""
    return torch.special.entr(logprobs.float().exp()).sum(-1)


def draw(logprobs: torch.Tensor, k: int, generator: torch.Generator | None) -> Draws:
    """``k`` ids per row of ``logprobs`` (``[N, V]``, a log-softmax), drawn with replacement.

    Rows are drawn in order from one generator, so the same generator state gives the same draws.
    """
    probs = logprobs.float().exp()
    drawn = torch.multinomial(probs, k, replacement=True, generator=generator).cpu()
    ids: list[list[int]] = []
    counts: list[list[int]] = []
    for row in drawn:
        unique, count = torch.unique(row, sorted=True, return_counts=True)
        ids.append(unique.tolist())
        counts.append(count.tolist())
    return Draws(ids, counts, entropy(logprobs).cpu().tolist())
