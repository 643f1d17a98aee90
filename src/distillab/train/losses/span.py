"""Sequence-level distillation over a span: does the student give the teacher's text its probability?

Where teacher and student tokens do not match one-to-one (``distillab.train.align``), there is no
next-token distribution to compare, but both models assign a probability to the span's text: the
teacher ``p`` (the sum of its tokens' log-probs) and the student ``q`` (the sum over the span's
*student* tokens). Each side is a two-outcome distribution, {this text, anything else}, and the run's
divergence (forward KL, JSD, ...) compares them through its top-k form with K = 1: ``p`` is the one
"top-k" entry and ``1 - p`` the tail bucket (see ``_buckets``). For forward KL this is
``p log(p/q) + (1-p) log((1-p)/(1-q))``: it pulls ``q`` up when the teacher was sure of the span and
leaves it alone when the teacher was not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

MAX_LOGPROB = -1e-6
"""Span log-probs are capped here so that ``log(1 - q)`` and its gradient stay finite."""


def span_loss(
    topk_loss: Callable[..., Tensor],
    student_span_logprobs: Tensor,
    teacher_span_logprobs: Tensor,
    **params: Any,
) -> Tensor:
    """Mean over spans of the divergence between {span, rest} under teacher and student.

    Args:
        topk_loss: a ``*_topk`` loss (``forward_kl_topk``, ...), applied with K = 1.
        student_span_logprobs: ``[G]`` float, log q of each span (with gradient).
        teacher_span_logprobs: ``[G]`` float, log p of each span (constant).
        params: passed on (``temperature``, ``beta``, ``alpha``); a temperature has no effect with K = 1.

    Returns:
        Scalar: the mean over the G spans; 0 (attached to the graph) when G = 0.
    """
    student = student_span_logprobs.clamp(max=MAX_LOGPROB)
    two = torch.stack([student, torch.log(-torch.expm1(student))], dim=-1)[None]  # [1, G, 2]
    ids = torch.zeros((1, student.shape[0], 1), dtype=torch.long, device=student.device)
    teacher = teacher_span_logprobs.detach().to(two.dtype).clamp(max=0.0)[None, :, None]
    mask = torch.ones((1, student.shape[0]), dtype=torch.bool, device=student.device)
    return topk_loss(two, ids, teacher, mask, **params)
