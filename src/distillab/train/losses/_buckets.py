"""Top-k teacher signal (log-probabilities stored from an API) turned into K+1 categories.

An API gives, per token position, the teacher's K most likely ids and their log-probabilities,
nothing about the other V - K ids. Rather than pretend those K are the whole distribution, the
rest is kept as one *tail* bucket, on both sides:

    teacher: p_1 .. p_K (stored),           tail 1 - sum_k p_k
    student: q_1 .. q_K (same ids, exact),  tail 1 - sum_k q_k

and any divergence is computed over these K+1 categories. With K = V the tail is empty and the
result equals the full-vocabulary loss. Lumping the tail can only hide differences (data-processing
inequality), so for K < V the K+1 divergence is a lower bound on the full one.

Tail floor. ``1 - sum_k p_k`` is only known to about 1e-6 in float32 (K rounded terms summed), and
stored top-k mass often sums to slightly more than 1 (rounded API numbers). Both tails therefore
get ``TAIL_FLOOR`` added (then the K+1 buckets are renormalised). Adding the same floor on both sides
keeps identical distributions at divergence 0, keeps reverse KL finite when a teacher claims its
top-k holds all the mass, and, unlike a clamp, keeps a gradient on the student's tail.

Temperature. The teacher's logits are gone and its tail is a single aggregate, so its
``softmax(logits / T)`` cannot be recomputed. What *is* known exactly
is the shape of the top-k: tempering turns ``p_k`` into ``p_k^(1/T)`` up to normalisation. So a
temperature reshapes the distribution *within* the top-k and leaves the top-k/tail split unchanged;
the same rule is applied to the student (from its exact T = 1 probabilities), so both sides are
compared on equal terms (a student equal to the teacher scores 0 at any T), T = 1 is exact, and
with K = V it equals the dense loss at every T (up to the floor, a relative 1e-6).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from distillab.train.losses._divergence import PerToken, compute_dtype, token_mean

TAIL_FLOOR = 1e-6
"""Probability added to both tail buckets: about the float32 resolution of ``1 - sum of K probs``."""


def bucket_logprobs(topk_logprobs: Tensor, temperature: float = 1.0) -> Tensor:
    """K top-k log-probs (``-inf`` = absent) -> K+1 normalised log-probs, tail bucket last.

    ``topk_logprobs``: ``[N, K]`` float, the T = 1 log-probabilities of K distinct ids (any subset of
    the vocabulary). Returns ``[N, K+1]``: the top-k mass ``m = sum_k p_k`` (capped at 1) spread over
    the K ids as ``softmax(log p / T)``, then the tail ``1 - m + TAIL_FLOOR``, renormalised.
    """
    log_mass = torch.logsumexp(topk_logprobs, dim=-1, keepdim=True).clamp(max=0.0)
    # -expm1(log m) = 1 - m, accurate when m is close to 1 (the usual case: top-k holds most mass).
    log_tail = torch.log(-torch.expm1(log_mass) + TAIL_FLOOR)
    tempered = topk_logprobs / temperature
    # A row with no ids at all has logsumexp -inf; 0 keeps its top-k at -inf instead of NaN.
    log_norm = torch.logsumexp(tempered, dim=-1, keepdim=True).nan_to_num(neginf=0.0)
    buckets = torch.cat([log_mass + tempered - log_norm, log_tail], dim=-1)
    return buckets - torch.logsumexp(buckets, dim=-1, keepdim=True)


def topk_loss(
    per_token: PerToken,
    student_logits: Tensor,
    teacher_topk_ids: Tensor,
    teacher_topk_logprobs: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
) -> Tensor:
    """Mean over kept positions of ``per_token`` on the K+1 buckets of student and teacher.

    See the public ``*_topk`` losses for the argument contract.
    """
    if (
        teacher_topk_ids.shape != teacher_topk_logprobs.shape
        or student_logits.shape[:-1] != mask.shape
        or teacher_topk_ids.shape[:-1] != mask.shape
    ):
        raise ValueError(
            f"shape mismatch: student logits {tuple(student_logits.shape)}, top-k ids "
            f"{tuple(teacher_topk_ids.shape)}, top-k logprobs "
            f"{tuple(teacher_topk_logprobs.shape)}, mask {tuple(mask.shape)}; "
            f"expected [B, T, V], [B, T, K], [B, T, K], [B, T]"
        )
    vocab = student_logits.shape[-1]
    if teacher_topk_ids.numel() and int(teacher_topk_ids.max()) >= vocab:
        # Caught here because an out-of-range gather on GPU is an opaque device-side assert.
        raise ValueError(
            f"top-k id {int(teacher_topk_ids.max())} is outside the student's vocabulary "
            f"of {vocab}: teacher and student tokenizers must agree"
        )
    keep = mask.bool()
    logits = student_logits[keep]
    logits = logits.to(compute_dtype(logits.dtype))
    ids = teacher_topk_ids[keep].long()
    present = ids >= 0
    student_logp = logits.gather(-1, ids.clamp(min=0)) - torch.logsumexp(logits, dim=-1, keepdim=True)
    student_topk = torch.where(present, student_logp, -math.inf)
    teacher_topk = torch.where(present, teacher_topk_logprobs[keep].detach().to(logits.dtype), -math.inf)
    student_buckets = bucket_logprobs(student_topk, temperature)
    values = per_token(student_buckets, bucket_logprobs(teacher_topk, temperature))
    return token_mean(values, keep.sum())
