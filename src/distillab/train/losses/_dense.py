"""Full-vocabulary divergences (a local teacher's logits), plain or chunked over token positions.

Both paths compute the same number: the mean over kept token positions of a per-token divergence
between ``log_softmax(student / T)`` and ``log_softmax(teacher / T)``. The chunked path (for large
vocabularies) is ``_chunked.chunked_mean``.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from distillab.train.losses._chunked import chunked_mean
from distillab.train.losses._divergence import PerToken, compute_dtype, token_mean


def dense_loss(
    per_token: PerToken,
    student_logits: Tensor,
    teacher_logits: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    """Mean of ``per_token`` over kept positions; see the public losses for the argument contract."""
    if student_logits.shape != teacher_logits.shape or student_logits.shape[:-1] != mask.shape:
        raise ValueError(
            f"shape mismatch: student logits {tuple(student_logits.shape)}, teacher "
            f"{tuple(teacher_logits.shape)}, mask {tuple(mask.shape)}; expected [B, T, V], "
            f"[B, T, V], [B, T] (same vocabulary on both sides)"
        )
    row_loss = partial(_divergence_rows, per_token, temperature)
    keep = mask.bool()
    if chunk_size is None:
        # Selecting rows first means masked positions are never computed on: garbage there
        # (even inf/NaN) cannot leak into the value or the gradient.
        return token_mean(row_loss(student_logits[keep], teacher_logits.detach()[keep]), keep.sum())
    return chunked_mean(row_loss, student_logits, teacher_logits, keep, chunk_size)


def _divergence_rows(per_token: PerToken, temperature: float, student: Tensor, teacher: Tensor) -> Tensor:
    return per_token(_log_softmax(student, temperature), _log_softmax(teacher, temperature))


def _log_softmax(logits: Tensor, temperature: float) -> Tensor:
    return torch.log_softmax(logits.to(compute_dtype(logits.dtype)) / temperature, dim=-1)
