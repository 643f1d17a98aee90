"""Skew KL, as in DistiLLM (Ko et al., 2024): forward KL against a student slightly mixed with the teacher.

    SKL_alpha = KL(teacher || alpha * teacher + (1 - alpha) * student)

This is DistiLLM's skew *forward* KL (their SKL; the paper's default is alpha = 0.1). alpha = 0 is
exactly forward KL; alpha = 1 is identically 0. Mixing in a little of the teacher bounds the
log-ratio by ``-log(alpha)``, so the loss and its gradient stay finite where the student gives a
token almost no mass, which is what makes it more stable than plain forward KL early in training.
"""

from __future__ import annotations

from functools import partial

from torch import Tensor

from distillab.train.losses._buckets import topk_loss
from distillab.train.losses._dense import dense_loss
from distillab.train.losses._divergence import kl_rows, log_mixture


def skew_kl_per_token(student_logp: Tensor, teacher_logp: Tensor, alpha: float) -> Tensor:
    """Skew forward KL for each row: ``[N, C], [N, C] -> [N]`` (log-probs, -inf = 0), alpha in [0, 1]."""
    return kl_rows(teacher_logp, log_mixture(teacher_logp, student_logp, alpha))


def skew_kl(
    student_logits: Tensor,
    teacher_logprobs: Tensor,
    mask: Tensor,
    *,
    alpha: float = 0.1,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    """KL(teacher || alpha * teacher + (1 - alpha) * student), averaged over kept token positions.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_logprobs: ``[B, T, V]`` float, teacher logits or log-probs (``-inf`` = probability 0);
            no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        alpha: teacher weight mixed into the student, in [0, 1]; 0 = forward KL.
        temperature: both sides become ``log_softmax(x / temperature)`` before mixing; no ``T**2``.
        chunk_size: process kept positions this many at a time (same result, bounded memory).

    Returns:
        Scalar float32: the mean over kept positions; 0 (attached to the graph) for an empty mask.
    """
    return dense_loss(
        partial(skew_kl_per_token, alpha=alpha),
        student_logits,
        teacher_logprobs,
        mask,
        temperature=temperature,
        chunk_size=chunk_size,
    )


def skew_kl_topk(
    student_logits: Tensor,
    teacher_topk_ids: Tensor,
    teacher_topk_logprobs: Tensor,
    mask: Tensor,
    *,
    alpha: float = 0.1,
    temperature: float = 1.0,
) -> Tensor:
    """Skew forward KL over K+1 categories: the teacher's top-k ids plus one tail bucket.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_topk_ids: ``[B, T, K]`` int64, distinct ids; ``-1`` pads short positions.
        teacher_topk_logprobs: ``[B, T, K]`` float log-probs of those ids; no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        alpha: teacher weight mixed into the student, in [0, 1]; 0 = forward KL.
        temperature: reshapes within the top-k on both sides, keeps the top-k/tail split.

    Returns:
        Scalar float32: the mean over kept positions; 0 for an empty mask. Equals ``skew_kl`` at K = V.
    """
    return topk_loss(
        partial(skew_kl_per_token, alpha=alpha),
        student_logits,
        teacher_topk_ids,
        teacher_topk_logprobs,
        mask,
        temperature=temperature,
    )
