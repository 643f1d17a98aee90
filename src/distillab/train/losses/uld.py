"""Universal Logit Distillation (Boizard et al., 2024): tokenizer-free, compares *sorted* probabilities.

When teacher and student have different vocabularies, id ``i`` means nothing across the two, but the
shape of a distribution does: ULD sorts both probability vectors in decreasing order, pads the shorter
with zeros, and takes the L1 distance between them (the closed form of the Wasserstein-1 distance
between the two sets of probability values). Position ``t`` of the student is paired with position
``t`` of the teacher, in token order, as in the paper. It is the literature's baseline for
cross-tokenizer distillation: cheap, needs no alignment, but blind to *which* token is likely.

With a top-k teacher the rest of its distribution is unknown, so both sides are compared on their K
largest probabilities plus one tail entry (``1 - sum`` of those K): with K equal to the vocabulary this
is exactly the paper's loss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from distillab.train.losses._divergence import compute_dtype, token_mean


def uld_loss(student_logits: Tensor, teacher_topk_logprobs: Tensor, mask: Tensor) -> Tensor:
    """Sorted-probability L1 between student and teacher, averaged over kept positions.

    Args:
        student_logits: ``[B, T, V]`` float, any dtype (upcast to float32 inside).
        teacher_topk_logprobs: ``[B, T, K]`` float, the teacher's K largest log-probs at the paired
            position, in any order (``-inf`` pads rows with fewer). Constant (no gradient).
        mask: ``[B, T]`` bool: positions that have a paired teacher position.

    Returns:
        Scalar float32: mean over kept positions of ``sum_i |q_(i) - p_(i)| + |q_tail - p_tail|`` over the
        K largest probabilities of each side; 0 (attached to the graph) for an empty mask. No
        temperature: the paper's loss has none.
    """
    if student_logits.shape[:-1] != mask.shape or teacher_topk_logprobs.shape[:-1] != mask.shape:
        raise ValueError(
            f"shape mismatch: student logits {tuple(student_logits.shape)}, teacher top-k "
            f"{tuple(teacher_topk_logprobs.shape)}, mask {tuple(mask.shape)}; expected [B, T, V], "
            "[B, T, K], [B, T]"
        )
    keep = mask.bool()
    logits = student_logits[keep]
    logits = logits.to(compute_dtype(logits.dtype))
    k = min(teacher_topk_logprobs.shape[-1], logits.shape[-1])
    student = torch.softmax(logits, dim=-1).topk(k, dim=-1).values
    teacher_lp = teacher_topk_logprobs[keep].detach().to(logits.dtype)
    teacher = teacher_lp.exp().sort(dim=-1, descending=True).values[:, :k]  # exp(-inf) = 0 pads
    tails = (1 - student.sum(-1)).clamp(min=0) - (1 - teacher.sum(-1)).clamp(min=0)
    values = (student - teacher).abs().sum(-1) + tails.abs()
    return token_mean(values, keep.sum())
