"""Turning one position's log-probabilities into a sampled token: temperature, then nucleus (top_p).

Pure functions on tensors so they can be checked in isolation. The log-probabilities passed in are the
model's raw distribution; temperature and top_p only shape the distribution we *sample* from, they never
change the log-probabilities the engine reports.
"""

from __future__ import annotations

import torch


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero out the tail of `probs` ([V]) outside the smallest set whose mass reaches `top_p`.

    The most likely token is always kept, so top_p close to 0 degenerates to greedy, not to an error.
    """
    if top_p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(descending=True)
    mass_before = sorted_probs.cumsum(0) - sorted_probs
    drop_sorted = mass_before >= top_p
    drop_sorted[0] = False
    drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
    return probs.masked_fill(drop, 0.0)


def sample_token(
    logprobs: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None
) -> int:
    """Draw one token id from `logprobs` ([V], log-softmax of the logits).

    temperature == 0 means greedy (argmax, the same tie-break as `model.generate(do_sample=False)`).
    Dividing log-probabilities by the temperature equals dividing logits by it, up to a constant that
    softmax removes.
    """
    if temperature == 0.0:
        return int(logprobs.argmax())
    probs = torch.softmax(logprobs / temperature, dim=-1)
    probs = top_p_filter(probs, top_p)
    return int(torch.multinomial(probs, 1, generator=generator))
