"""Divergence building blocks over rows of log-probabilities, shared by every divergence loss.

Everything here works in log space on ``[N, C]`` tensors (N token positions, C categories: the
vocabulary, or the K+1 top-k buckets) and treats a ``-inf`` log-probability as an exact zero.
The ``torch.where`` pairs below exist so that zero-probability categories give ``0 * log 0 = 0``
in the forward pass *and* a zero (not NaN) gradient in the backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

PerToken = Callable[[Tensor, Tensor], Tensor]
"""``(student_logp [N, C], teacher_logp [N, C]) -> [N]``: a divergence for each token position."""


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs (bf16/fp16 softmax loses too much), float64 stays float64."""
    return torch.promote_types(dtype, torch.float32)


def kl_rows(logp: Tensor, logq: Tensor) -> Tensor:
    """KL(p || q) per row: ``sum_c p_c (log p_c - log q_c)``, ``[N, C] -> [N]``.

    Categories with ``p_c = 0`` contribute exactly 0 even where ``q_c = 0`` too. Where ``p_c > 0`` and
    ``q_c = 0`` the result is ``+inf``: that is the divergence's true value, not a numerical accident.
    """
    support = logp > -math.inf
    logp_safe = torch.where(support, logp, 0.0)
    logq_safe = torch.where(support, logq, 0.0)
    terms = torch.where(support, logp_safe.exp() * (logp_safe - logq_safe), 0.0)
    return terms.sum(-1)


def log_mixture(logp: Tensor, logq: Tensor, weight_p: float) -> Tensor:
    """``log(weight_p * p + (1 - weight_p) * q)`` elementwise, with ``weight_p`` in [0, 1]."""
    if weight_p == 0.0:
        return logq
    if weight_p == 1.0:
        return logp
    both_zero = (logp == -math.inf) & (logq == -math.inf)
    a = torch.where(both_zero, 0.0, logp) + math.log(weight_p)
    b = torch.where(both_zero, 0.0, logq) + math.log1p(-weight_p)
    return torch.where(both_zero, -math.inf, torch.logaddexp(a, b))


def token_mean(values: Tensor, count: Tensor) -> Tensor:
    """Sum of per-token values over ``count`` kept positions; 0 (with a grad path) when none are kept."""
    return values.sum() / count.clamp(min=1)
