"""Forward KL, KL(teacher || student): the classic distillation loss (Hinton et al., 2015).

Mean-seeking: the student is pushed to put mass wherever the teacher does, so a small student
spreads itself over all of the teacher's modes.
"""

from __future__ import annotations

from torch import Tensor

from distillab.train.losses._buckets import topk_loss
from distillab.train.losses._dense import dense_loss
from distillab.train.losses._divergence import kl_rows


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
