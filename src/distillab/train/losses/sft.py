"""Supervised fine-tuning on the teacher's text: token cross-entropy, the loss for text-only data."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from distillab.train.losses._chunked import chunked_mean
from distillab.train.losses._divergence import compute_dtype, token_mean

IGNORE_INDEX = -100
"""Label value for positions that are not trained on (prompt, padding), as in Hugging Face."""


def sft_loss(student_logits: Tensor, labels: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Mean cross-entropy of the student on the teacher's tokens.

    Args:
        student_logits: ``[B, T, V]``, any float dtype (bf16/fp16 upcast to float32). Position ``t``
            predicts ``labels[:, t]``: logits and labels are already aligned (the caller shifts,
            e.g. ``logits[:, :-1]`` with ``labels[:, 1:]``), the same convention as every loss here.
        labels: ``[B, T]`` int64 token ids; ``IGNORE_INDEX`` (-100) marks positions to skip.
        chunk_size: if set, kept positions are processed this many at a time, so only one
            ``[chunk_size, V]`` float32 slab is alive at once, backward included (see ``_chunked``).
            Same value and gradient as ``None``; the result cannot be differentiated twice.

    Returns:
        float32 (float64 for float64 logits) scalar: the mean over non-ignored positions of the whole
        batch (every token weighs the same, long answers weigh more); 0 with a grad path if none.
    """
    keep = labels != IGNORE_INDEX
    if chunk_size is None:
        return token_mean(_cross_entropy_rows(student_logits[keep], labels[keep]), keep.sum())
    return chunked_mean(_cross_entropy_rows, student_logits, labels, keep, chunk_size)


def _cross_entropy_rows(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits.to(compute_dtype(logits.dtype)), labels, reduction="none")
