"""Supervised fine-tuning on the teacher's text: token cross-entropy, the loss for text-only data."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from distillab.train.losses._divergence import compute_dtype, token_mean

IGNORE_INDEX = -100
"""Label value for positions that are not trained on (prompt, padding), as in Hugging Face."""


def sft_loss(student_logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of the student on the teacher's tokens.

    Args:
        student_logits: ``[B, T, V]``, any float dtype (bf16/fp16 upcast to float32). Position ``t``
            predicts ``labels[:, t]``: logits and labels are already aligned (the caller shifts,
            e.g. ``logits[:, :-1]`` with ``labels[:, 1:]``), the same convention as every loss here.
        labels: ``[B, T]`` int64 token ids; ``IGNORE_INDEX`` (-100) marks positions to skip.

    Returns:
        float32 (float64 for float64 logits) scalar: the mean over non-ignored positions of the whole
        batch (every token weighs the same, long answers weigh more); 0 with a grad path if none.
    """
    keep = labels != IGNORE_INDEX
    logits = student_logits[keep]
    nll = F.cross_entropy(logits.to(compute_dtype(logits.dtype)), labels[keep], reduction="none")
    return token_mean(nll, keep.sum())
