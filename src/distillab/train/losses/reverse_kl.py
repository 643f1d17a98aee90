"""Reverse KL, KL(student || teacher), as in MiniLLM (Gu et al., 2023).

Mode-seeking: the student is penalised for mass where the teacher has little and may ignore some of
the teacher's modes, which suits small students on open-ended generation. If the teacher gives
probability exactly 0 (``-inf``) where the student has mass, the divergence is ``+inf`` (the true
value, not NaN); prefer ``gjsd`` or ``skl`` for teachers that emit hard zeros.
"""

from __future__ import annotations

from torch import Tensor

from distillab.train.losses._buckets import topk_loss
from distillab.train.losses._dense import dense_loss
from distillab.train.losses._divergence import kl_rows


def reverse_kl_per_token(student_logp: Tensor, teacher_logp: Tensor) -> Tensor:
    """KL(student || teacher) for each row: ``[N, C], [N, C] -> [N]`` (log-probs, -inf = 0)."""
    return kl_rows(student_logp, teacher_logp)


def reverse_kl(
    student_logits: Tensor,
    teacher_logprobs: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    """KL(student || teacher) over the full vocabulary, averaged over kept token positions.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_logprobs: ``[B, T, V]`` float, teacher logits or log-probs (``-inf`` = probability 0);
            no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        temperature: both sides become ``log_softmax(x / temperature)``; no ``T**2`` factor.
        chunk_size: process kept positions this many at a time (same result, bounded memory).

    Returns:
        Scalar float32: the mean over kept positions; 0 (attached to the graph) for an empty mask.
    """
    return dense_loss(
        reverse_kl_per_token,
        student_logits,
        teacher_logprobs,
        mask,
        temperature=temperature,
        chunk_size=chunk_size,
    )


def reverse_kl_topk(
    student_logits: Tensor,
    teacher_topk_ids: Tensor,
    teacher_topk_logprobs: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
) -> Tensor:
    """KL(student || teacher) over K+1 categories: the teacher's top-k ids plus one tail bucket.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_topk_ids: ``[B, T, K]`` int64, distinct ids; ``-1`` pads short positions.
        teacher_topk_logprobs: ``[B, T, K]`` float log-probs of those ids; no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        temperature: reshapes within the top-k on both sides, keeps the top-k/tail split.

    Returns:
        Scalar float32: the mean over kept positions; 0 for an empty mask. Equals ``reverse_kl`` at K = V.
    """
    return topk_loss(
        reverse_kl_per_token,
        student_logits,
        teacher_topk_ids,
        teacher_topk_logprobs,
        mask,
        temperature=temperature,
    )
