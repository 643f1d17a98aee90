"""Forward KL, KL(teacher || student): the classic distillation loss (Hinton et al., 2015).

Mean-seeking: the student is pushed to put mass wherever the teacher does, so a small student
spreads itself over all of the teacher's modes.

Three forms, one per teacher signal: full logits (exact), top-k + tail bucket (a lower bound, biased
towards the teacher's head), and ids drawn from the teacher (an unbiased estimate: forward KL is an
expectation under the teacher, ``E_{x~p}[log p(x) - log q(x)]``, so a sample average estimates it).
"""

from __future__ import annotations

import torch
from torch import Tensor

from distillab.train.losses._buckets import topk_loss
from distillab.train.losses._dense import dense_loss
from distillab.train.losses._divergence import compute_dtype, kl_rows, token_mean


def forward_kl_per_token(student_logp: Tensor, teacher_logp: Tensor) -> Tensor:
    """KL(teacher || student) for each row: ``[N, C], [N, C] -> [N]`` (log-probs, -inf = 0)."""
    return kl_rows(teacher_logp, student_logp)


def forward_kl(
    student_logits: Tensor,
    teacher_logprobs: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    """KL(teacher || student) over the full vocabulary, averaged over kept token positions.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (bf16/fp16 are upcast to float32 inside).
            Position ``t`` is compared with teacher position ``t``.
        teacher_logprobs: ``[B, T, V]`` float, the teacher's logits *or* log-probs: they differ by a
            per-position constant that the log-softmax removes. ``-inf`` means probability 0.
            Treated as a constant (no gradient flows to it).
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        temperature: both sides become ``log_softmax(x / temperature)``; no ``T**2`` factor.
        chunk_size: if set, kept positions are processed this many at a time, so only one
            ``[chunk_size, V]`` float32 slab is alive at once, backward included (see ``_dense``).
            Same value and gradient as ``None``; the result cannot be differentiated twice.

    Returns:
        Scalar, float32 (float64 for float64 logits): the mean over kept positions of the whole batch;
        0 (still attached to the graph) when the mask is empty.
    """
    return dense_loss(
        forward_kl_per_token,
        student_logits,
        teacher_logprobs,
        mask,
        temperature=temperature,
        chunk_size=chunk_size,
    )


def forward_kl_topk(
    student_logits: Tensor,
    teacher_topk_ids: Tensor,
    teacher_topk_logprobs: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
) -> Tensor:
    """KL(teacher || student) over K+1 categories: the teacher's top-k ids plus one tail bucket.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_topk_ids: ``[B, T, K]`` int64, distinct ids per position; ``-1`` pads positions that
            have fewer than K alternatives.
        teacher_topk_logprobs: ``[B, T, K]`` float, the teacher's log-probs of those ids (values at
            padded slots are ignored; ``-inf`` means probability 0). No gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        temperature: reshapes the distribution within the top-k on both sides and keeps the
            top-k/tail split (the teacher's tail cannot be re-tempered); see ``_buckets``.

    Returns:
        Scalar float32: the mean over kept positions; 0 (attached to the graph) for an empty mask.
        Equal to ``forward_kl`` when K = V.
    """
    return topk_loss(
        forward_kl_per_token,
        student_logits,
        teacher_topk_ids,
        teacher_topk_logprobs,
        mask,
        temperature=temperature,
    )


def forward_kl_sampled(
    student_logits: Tensor,
    draw_ids: Tensor,
    draw_counts: Tensor,
    teacher_entropy: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
) -> Tensor:
    """Unbiased estimate of KL(teacher || student) over the full vocabulary, from ids drawn from the teacher.

    Per position, with ``x_1..x_K`` drawn from the teacher's distribution ``p`` (stored as distinct ids
    with counts ``c``) and its entropy ``H(p)``::

        KL_hat = -sum_d (c_d / sum_d c_d) * log q(x_d) - H(p)

    whose expectation over the draws is ``CE(p, q) - H(p) = KL(p || q)``, and whose gradient is an
    unbiased estimate of the full-vocabulary gradient (``q`` is the student's full softmax, not
    renormalised over the drawn ids). A single estimate can be below 0; its mean cannot.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        draw_ids: ``[B, T, D]`` int64, the distinct ids drawn; ``-1`` pads, and marks an id the student's
            vocabulary lacks (its count still counts in the total, with no term: it adds nothing the
            student could learn).
        draw_counts: ``[B, T, D]`` float, how often each id was drawn (0 on padding).
        teacher_entropy: ``[B, T]`` float, ``H(p)`` in nats at each position. No gradient flows to it.
        mask: ``[B, T]`` bool (or 0/1): the positions to train on.
        temperature: must be 1: the ids were drawn at temperature 1, and a tempered teacher
            ``p^(1/T) / Z`` cannot be estimated from them without bias.

    Returns:
        Scalar float32: the mean over kept positions; 0 (attached to the graph) for an empty mask.
    """
    if temperature != 1.0:
        raise ValueError(f"sampled forward KL needs temperature 1 (the draws' own); got {temperature}")
    if (
        draw_ids.shape != draw_counts.shape
        or student_logits.shape[:-1] != mask.shape
        or draw_ids.shape[:-1] != mask.shape
        or teacher_entropy.shape != mask.shape
    ):
        raise ValueError(
            f"shape mismatch: student logits {tuple(student_logits.shape)}, draw ids "
            f"{tuple(draw_ids.shape)}, counts {tuple(draw_counts.shape)}, entropy "
            f"{tuple(teacher_entropy.shape)}, mask {tuple(mask.shape)}; "
            "expected [B, T, V], [B, T, D], [B, T, D], [B, T], [B, T]"
        )
    vocab = student_logits.shape[-1]
    if draw_ids.numel() and int(draw_ids.max()) >= vocab:
        raise ValueError(
            f"drawn id {int(draw_ids.max())} is outside the student's vocabulary of {vocab}: "
            "teacher and student tokenizers must agree"
        )
    keep = mask.bool()
    logits = student_logits[keep]
    logits = logits.to(compute_dtype(logits.dtype))
    ids = draw_ids[keep].long()
    counts = draw_counts[keep].detach().to(logits.dtype)
    student_logp = logits.gather(-1, ids.clamp(min=0)) - torch.logsumexp(logits, dim=-1, keepdim=True)
    weighted = torch.where(ids >= 0, counts * student_logp, 0.0)
    cross_entropy = -weighted.sum(-1) / counts.sum(-1).clamp(min=1)
    values = cross_entropy - teacher_entropy[keep].detach().to(logits.dtype)
    return token_mean(values, keep.sum())
