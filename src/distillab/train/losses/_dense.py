"""Full-vocabulary divergences (a local teacher's logits), plain or chunked over token positions.

Both paths compute the same number: the mean over kept token positions of a per-token divergence
between ``log_softmax(student / T)`` and ``log_softmax(teacher / T)``.

The chunked path exists for large vocabularies. Plain autograd over ``[B*T, V]`` keeps several
float32 ``[B*T, V]`` tensors alive (upcast logits, log-softmaxes, probabilities, their gradients).
``_ChunkedDivergence`` instead walks the kept positions ``chunk_size`` at a time and, for each chunk,
computes the loss *and* its gradient right away (``torch.autograd.grad`` on that chunk alone), writing
the gradient rows into one preallocated buffer shaped and typed like the student logits. So at any
moment the only vocabulary-sized tensors alive are: the inputs, that gradient buffer (which autograd
would have to create anyway), and the temporaries of one ``[chunk_size, V]`` chunk. The backward pass
only scales the stored buffer by the incoming gradient: no recomputation, no full-size float32
intermediates. The price: the loss cannot be differentiated twice (``once_differentiable``).

Measured (CPU peak RSS above the inputs, bf16 logits, GJSD forward + backward, V = 16384): plain,
1.5 GiB at N = 2048 and 3.0 GiB at N = 4096 (about 12 float32 ``[N, V]`` tensors); ``chunk_size=128``,
about 0.2 GiB at both (the bf16 gradient buffer plus one chunk's temporaries).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from distillab.train.losses._divergence import PerToken, compute_dtype, token_mean


def dense_loss(
    per_token: PerToken,
    student_logits: Tensor,
    teacher_logits: Tensor,
    mask: Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int | None = None,
) -> Tensor:
    """Mean of ``per_token`` over kept positions; see the public losses for the argument contract."""
    if student_logits.shape != teacher_logits.shape or student_logits.shape[:-1] != mask.shape:
        raise ValueError(
            f"shape mismatch: student logits {tuple(student_logits.shape)}, teacher "
            f"{tuple(teacher_logits.shape)}, mask {tuple(mask.shape)}; expected [B, T, V], "
            f"[B, T, V], [B, T] (same vocabulary on both sides)"
        )
    vocab = student_logits.shape[-1]
    student = student_logits.reshape(-1, vocab)
    teacher = teacher_logits.detach().reshape(-1, vocab)
    keep = mask.reshape(-1).bool()
    if chunk_size is None:
        # Selecting rows first means masked positions are never computed on: garbage there
        # (even inf/NaN) cannot leak into the value or the gradient.
        values = per_token(_log_softmax(student[keep], temperature), _log_softmax(teacher[keep], temperature))
        return token_mean(values, keep.sum())
    loss: Tensor = _ChunkedDivergence.apply(student, teacher, keep, per_token, temperature, chunk_size)
    return loss


def _log_softmax(logits: Tensor, temperature: float) -> Tensor:
    return torch.log_softmax(logits.to(compute_dtype(logits.dtype)) / temperature, dim=-1)


class _ChunkedDivergence(torch.autograd.Function):
    """Value and student-gradient of ``dense_loss`` computed chunk by chunk (see the module docstring)."""

    @staticmethod
    def forward(
        ctx: Any,
        student: Tensor,
        teacher: Tensor,
        keep: Tensor,
        per_token: PerToken,
        temperature: float,
        chunk_size: int,
    ) -> Tensor:
        rows = keep.nonzero().squeeze(1)
        count = max(rows.numel(), 1)
        want_grad = bool(ctx.needs_input_grad[0])
        grad = torch.zeros_like(student) if want_grad else None
        total = torch.zeros((), dtype=compute_dtype(student.dtype), device=student.device)
        for idx in rows.split(chunk_size):
            with torch.enable_grad():
                chunk = student.index_select(0, idx).detach().requires_grad_(want_grad)
                target = _log_softmax(teacher.index_select(0, idx), temperature)
                chunk_loss = per_token(_log_softmax(chunk, temperature), target).sum()
            if grad is not None:
                (chunk_grad,) = torch.autograd.grad(chunk_loss, chunk)
                grad.index_copy_(0, idx, (chunk_grad / count).to(grad.dtype))
            total += chunk_loss.detach()
        ctx.save_for_backward(grad)
        return total / count

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, None, None, None, None, None]:
        (grad,) = ctx.saved_tensors
        if grad is not None and not bool((grad_output == 1).all()):
            # Scaling makes a second full-size tensor; the usual ``loss.backward()`` skips it.
            grad = grad * grad_output
        return grad, None, None, None, None, None
