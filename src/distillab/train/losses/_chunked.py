"""A row-wise loss over the vocabulary computed chunk by chunk, value and gradient together.

Full-vocabulary losses (cross-entropy, the divergences from a local teacher's logits) are a mean over
kept token positions of a per-row value. Plain autograd over ``[N, V]`` keeps several float32
``[N, V]`` tensors alive (upcast logits, log-softmaxes, probabilities, their gradients).
``chunked_mean`` instead walks the kept positions ``chunk_size`` at a time and, for each chunk,
computes the loss *and* its gradient right away (``torch.autograd.grad`` on that chunk alone), writing
the gradient rows into one preallocated buffer shaped and typed like the student logits. So at any
moment the only vocabulary-sized tensors alive are: the inputs, that gradient buffer (which autograd
would have to create anyway), and the temporaries of one ``[chunk_size, V]`` chunk. The rows are
picked from the logits by index, so a strided view (``logits[:, :-1]``) is never copied whole. The
backward pass only scales the stored buffer, in place, by the incoming gradient: no recomputation, no
full-size intermediates, even for a weighted term (``0.5 * ce + 0.5 * kd``). The price: the loss
cannot be differentiated twice (``once_differentiable``), and its backward runs once (after
``backward(retain_graph=True)`` a second backward is autograd's in-place error, not a wrong gradient).

Measured (CPU peak RSS above the inputs, bf16 logits, GJSD forward + backward, V = 16384): plain,
1.5 GiB at N = 2048 and 3.0 GiB at N = 4096 (about 12 float32 ``[N, V]`` tensors); ``chunk_size=128``,
about 0.2 GiB at both (the bf16 gradient buffer plus one chunk's temporaries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from distillab.train.losses._divergence import compute_dtype

RowLoss = Callable[[Tensor, Tensor], Tensor]
"""``(student rows [n, V], target rows [n, ...]) -> [n]``: the loss of each kept position."""


def chunked_mean(row_loss: RowLoss, student: Tensor, target: Tensor, keep: Tensor, chunk_size: int) -> Tensor:
    """Mean of ``row_loss`` over the kept positions, ``chunk_size`` positions at a time.

    Args:
        row_loss: the per-position loss, upcasting the student rows itself.
        student: ``[..., V]`` logits (any float dtype; the gradient comes back in that dtype).
        target: ``[..., *]`` what each position is compared with (teacher logits, label ids), indexed
            with the same positions; treated as a constant.
        keep: ``[...]`` bool, the positions to average over.
        chunk_size: positions per chunk.

    Returns:
        Scalar in ``compute_dtype`` (float32 for half-precision logits); 0 with a grad path when no
        position is kept.
    """
    loss: Tensor = _ChunkedMean.apply(student, target.detach(), keep.bool(), row_loss, chunk_size)
    return loss


class _ChunkedMean(torch.autograd.Function):
    """Value and student-gradient of ``chunked_mean`` (see the module docstring)."""

    @staticmethod
    def forward(
        ctx: Any, student: Tensor, target: Tensor, keep: Tensor, row_loss: RowLoss, chunk_size: int
    ) -> Tensor:
        positions = keep.nonzero()
        count = max(positions.shape[0], 1)
        want_grad = bool(ctx.needs_input_grad[0])
        grad = torch.zeros_like(student) if want_grad else None
        total = torch.zeros((), dtype=compute_dtype(student.dtype), device=student.device)
        for chunk in positions.split(chunk_size):
            index = tuple(chunk.unbind(1))
            with torch.enable_grad():
                rows = student[index].detach().requires_grad_(want_grad)
                chunk_loss = row_loss(rows, target[index]).sum()
            if grad is not None:
                (rows_grad,) = torch.autograd.grad(chunk_loss, rows)
                grad.index_put_(index, (rows_grad / count).to(grad.dtype))
            total += chunk_loss.detach()
        ctx.save_for_backward(grad)
        return total / count

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, None, None, None, None]:
        (grad,) = ctx.saved_tensors
        if grad is not None and not bool((grad_output == 1).all()):
            # In place: a weighted loss (``0.5 * ce``) needs no second full-size tensor. Autograd's
            # version counter on the saved buffer turns a second backward into an error.
            grad.mul_(grad_output)
        return grad, None, None, None, None
