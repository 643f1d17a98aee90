"""Generalized Jensen-Shannon divergence, as in GKD (Agarwal et al., 2024) and TRL's ``GKDTrainer``.

With the mixture ``M = beta * teacher + (1 - beta) * student``:

    GJSD_beta = beta * KL(teacher || M) + (1 - beta) * KL(student || M)

``beta`` slides between the two KL directions, matching ``GKDTrainer.generalized_jsd_loss``
exactly (a test checks this against the installed TRL): ``beta = 0`` is *defined* as forward KL and
``beta = 1`` as reverse KL. Note the formula itself tends to 0 at both ends, so those two values are
special cases, not limits: a beta of 0.01 gives a loss about 100 times smaller than beta = 0.
``beta = 0.5`` is the ordinary (symmetric, bounded by log 2) Jensen-Shannon divergence.
"""

from __future__ import annotations

from functools import partial

from torch import Tensor

from distillab.train.losses._buckets import topk_loss
from distillab.train.losses._dense import dense_loss
from distillab.train.losses._divergence import kl_rows, log_mixture


def gjsd_per_token(student_logp: Tensor, teacher_logp: Tensor, beta: float) -> Tensor:
    """Generalized JSD for each row: ``[N, C], [N, C] -> [N]`` (log-probs, -inf = 0), beta in [0, 1]."""
    if beta == 0.0:
        return kl_rows(teacher_logp, student_logp)
    if beta == 1.0:
        return kl_rows(student_logp, teacher_logp)
    mixture = log_mixture(teacher_logp, student_logp, beta)
    return beta * kl_rows(teacher_logp, mixture) + (1.0 - beta) * kl_rows(student_logp, mixture)


def gjsd(
    student_logits: Tensor,
    teacher_logprobs: Tensor,
    mask: Tensor,
    *,
    beta: float = 0.5,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    """Generalized JSD over the full vocabulary, averaged over kept token positions.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_logprobs: ``[B, T, V]`` float, teacher logits or log-probs (``-inf`` = probability 0);
            no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on (TRL: ``labels != -100``).
        beta: teacher weight in the mixture, in [0, 1]; 0 = forward KL, 1 = reverse KL.
        temperature: both sides become ``log_softmax(x / temperature)``; no ``T**2`` factor (as TRL).
        chunk_size: process kept positions this many at a time (same result, bounded memory).

    Returns:
        Scalar float32: the mean over kept positions, i.e. TRL's ``reduction="batchmean"`` with labels;
        0 (attached to the graph) for an empty mask.
    """
    return dense_loss(
        partial(gjsd_per_token, beta=beta),
        student_logits,
        teacher_logprobs,
        mask,
        temperature=temperature,
        chunk_size=chunk_size,
    )


def gjsd_topk(
    student_logits: Tensor,
    teacher_topk_ids: Tensor,
    teacher_topk_logprobs: Tensor,
    mask: Tensor,
    *,
    beta: float = 0.5,
    temperature: float = 1.0,
) -> Tensor:
    """Generalized JSD over K+1 categories: the teacher's top-k ids plus one tail bucket.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_topk_ids: ``[B, T, K]`` int64, distinct ids; ``-1`` pads short positions.
        teacher_topk_logprobs: ``[B, T, K]`` float log-probs of those ids; no gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        beta: teacher weight in the mixture, in [0, 1]; 0 = forward KL, 1 = reverse KL.
        temperature: reshapes within the top-k on both sides, keeps the top-k/tail split.

    Returns:
        Scalar float32: the mean over kept positions; 0 for an empty mask. Equals ``gjsd`` at K = V.
    """
    return topk_loss(
        partial(gjsd_per_token, beta=beta),
        student_logits,
        teacher_topk_ids,
        teacher_topk_logprobs,
        mask,
        temperature=temperature,
    )
