"""Total variation distance, ``0.5 * sum_c |p_c - q_c|``, one of f-DISTILL's losses (Wen et al., 2023).

Bounded in [0, 1] and symmetric, so it never explodes on near-zero probabilities; its gradient is
weak where the two distributions already agree, so it trains slower than the KL family.
"""

from __future__ import annotations

from torch import Tensor

from distillab.train.losses._buckets import topk_loss
from distillab.train.losses._dense import dense_loss


def tv_per_token(student_logp: Tensor, teacher_logp: Tensor) -> Tensor:
    """Total variation for each row: ``[N, C], [N, C] -> [N]`` (log-probs, -inf = 0)."""
    return 0.5 * (student_logp.exp() - teacher_logp.exp()).abs().sum(-1)


def total_variation(
    student_logits: Tensor,
    teacher_logprobs: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    """Total variation distance over the full vocabulary, averaged over kept token positions.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_logprobs: ``[B, T, V]`` float, teacher logits or log-probs (``-inf`` = probability 0);
            no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        temperature: both sides become ``softmax(x / temperature)``; no ``T**2`` factor.
        chunk_size: process kept positions this many at a time (same result, bounded memory).

    Returns:
        Scalar float32 in [0, 1]: the mean over kept positions; 0 (attached to the graph) for an empty mask.
    """
    return dense_loss(
        tv_per_token, student_logits, teacher_logprobs, mask, temperature=temperature, chunk_size=chunk_size
    )


def total_variation_topk(
    student_logits: Tensor,
    teacher_topk_ids: Tensor,
    teacher_topk_logprobs: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
) -> Tensor:
    """Total variation over K+1 categories: the teacher's top-k ids plus one tail bucket.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_topk_ids: ``[B, T, K]`` int64, distinct ids; ``-1`` pads short positions.
        teacher_topk_logprobs: ``[B, T, K]`` float log-probs of those ids; no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        temperature: reshapes within the top-k on both sides, keeps the top-k/tail split.

    Returns:
        Scalar float32: the mean over kept positions; 0 for an empty mask. Equals ``total_variation``
        at K = V.
    """
    return topk_loss(
        tv_per_token, student_logits, teacher_topk_ids, teacher_topk_logprobs, mask, temperature=temperature
    )
