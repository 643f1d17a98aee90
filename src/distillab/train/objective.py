"""The training objective: cross-entropy on the teacher's tokens mixed with a distillation term.

    loss = (1 - W) * CE + W * T**2 * KD          W = --kd-weight, T = --temperature

A convex mix, chosen over ``CE + W * KD`` so that W reads as a share (0 is plain SFT, 1 pure
distillation) and the learning rate means the same for every W. ``T**2`` is Hinton's factor: a
tempered divergence's gradient shrinks like ``1/T**2``, and the losses themselves leave it out (the
TRL convention), so it is put back here to keep the two terms' gradients comparable at any T.

The KD term compares the student with whichever teacher signal the run has: the harvest's top-k or
drawn ids (``kd_mask`` marks the positions that have them) or a local teacher's full logits (every
completion position). On-policy batches are the student's own samples, where cross-entropy would only
reinforce whatever it wrote: their loss is the KD term alone.

Cross-tokenizer runs (``cross``, see ``distillab.train.xtok``) replace the KD term: ``align`` is the
loss's top-k form at one-to-one positions and its span form elsewhere, averaged over both kinds of
terms together (each position or span counts once); ``uld`` is the sorted-probability L1; ``sft``
drops the KD term (W = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from distillab.train.collate import Batch
from distillab.train.config import TrainConfig
from distillab.train.losses import IGNORE_INDEX, LOSSES, sft_loss, span_loss, uld_loss
from distillab.train.losses.span import MAX_LOGPROB

SCALE_STEPS = 8
"""Micro-batches over which the two terms' sizes are compared before deciding whether to warn."""
SCALE_RATIO = 10.0


@dataclass
class Terms:
    """One micro-batch's loss (with gradient) and its parts (detached tensors: no device sync for logging)."""

    loss: Tensor
    ce: Tensor
    kd: Tensor | None
    tokens: int
    """Completion tokens the loss is averaged over."""


class Objective:
    """``(student logits, batch[, teacher logits]) -> Terms``, as configured by ``TrainConfig``."""

    def __init__(self, config: TrainConfig, cross: str | None = None):
        self.spec = LOSSES[config.loss]
        self.cross = cross
        self.distill = config.loss != "sft" and cross != "sft"
        self.weight = config.kd_weight if self.distill else 0.0
        self.temperature = config.temperature
        self.params = config.loss_params()
        self.chunk_size = config.chunk_size
        self._seen: list[tuple[float, float]] = []
        self.scale_warning: str | None = None

    def __call__(
        self, logits: Tensor, batch: Batch, teacher_logits: Tensor | None = None, on_policy: bool = False
    ) -> Terms:
        student = logits[:, :-1]
        labels = batch.labels[:, 1:]
        tokens = int((labels != IGNORE_INDEX).sum())
        ce_weight = 0.0 if on_policy else 1.0 - self.weight
        with torch.set_grad_enabled(torch.is_grad_enabled() and ce_weight > 0):
            ce = sft_loss(student, labels, chunk_size=self.chunk_size)
        if not self.distill:
            return Terms(ce, ce.detach(), None, tokens)
        kd = self._kd(student, batch, teacher_logits)
        kd_scaled = kd * self.temperature**2
        loss = kd_scaled if ce_weight == 0.0 else ce_weight * ce + self.weight * kd_scaled
        early = len(self._seen) < SCALE_STEPS and torch.is_grad_enabled()
        if early and not on_policy and 0.0 < self.weight < 1.0:
            self._observe(ce_weight * float(ce.detach()), self.weight * float(kd_scaled.detach()))
        return Terms(loss, ce.detach(), kd.detach(), tokens)

    def _kd(self, student: Tensor, batch: Batch, teacher_logits: Tensor | None) -> Tensor:
        if self.cross is not None:
            return self._cross(student, batch)
        if teacher_logits is not None:
            # Same tokenizer, possibly different padding of the embedding matrix: compare on the ids
            # both models have (rows past the tokenizer's length are never real tokens).
            vocab = min(student.shape[-1], teacher_logits.shape[-1])
            mask = batch.labels[:, 1:] != IGNORE_INDEX
            teacher = teacher_logits[:, :-1, :vocab].to(student.device)
            return self.spec.full(
                student[..., :vocab],
                teacher,
                mask,
                temperature=self.temperature,
                chunk_size=self.chunk_size,
                **self.params,
            )
        if batch.draw_ids is not None:
            assert self.spec.sampled is not None
            assert batch.draw_counts is not None and batch.entropy is not None
            return self.spec.sampled(
                student,
                batch.draw_ids[:, 1:],
                batch.draw_counts[:, 1:],
                batch.entropy[:, 1:],
                batch.kd_mask[:, 1:],
                temperature=self.temperature,
                **self.params,
            )
        assert self.spec.topk is not None and batch.topk_ids is not None and batch.topk_logprobs is not None
        return self.spec.topk(
            student,
            batch.topk_ids[:, 1:],
            batch.topk_logprobs[:, 1:],
            batch.kd_mask[:, 1:],
            temperature=self.temperature,
            **self.params,
        )

    def _cross(self, student: Tensor, batch: Batch) -> Tensor:
        assert batch.topk_ids is not None and batch.topk_logprobs is not None
        kd_mask = batch.kd_mask[:, 1:]
        if self.cross == "uld":
            return uld_loss(student, batch.topk_logprobs[:, 1:], kd_mask)
        assert self.spec.topk is not None
        params = dict(temperature=self.temperature, **self.params)
        joint = batch.kd_prefix is not None and bool(batch.kd_prefix.any())
        labels = batch.labels[:, 1:]
        running = _running_logprobs(student, labels) if joint or batch.spans is not None else None
        if joint:
            assert batch.kd_prefix is not None and running is not None
            tokens = self.spec.topk(
                _joint_rows(student, running, kd_mask, batch.kd_prefix[:, 1:]),
                batch.topk_ids[:, 1:][kd_mask][None],
                batch.topk_logprobs[:, 1:][kd_mask][None],
                torch.ones((1, int(kd_mask.sum())), dtype=torch.bool, device=student.device),
                **params,
            )
        else:
            ids, logprobs = batch.topk_ids[:, 1:], batch.topk_logprobs[:, 1:]
            tokens = self.spec.topk(student, ids, logprobs, kd_mask, **params)
        if batch.spans is None or batch.span_logprobs is None:
            return tokens
        assert running is not None
        rows, starts, ends = batch.spans.unbind(-1)
        # logits at t - 1 predict token t, so span [start, end) reads positions start - 1 .. end - 2
        spans = span_loss(
            self.spec.topk, running[rows, ends - 1] - running[rows, starts - 1], batch.span_logprobs, **params
        )
        n_tokens, n_spans = kd_mask.sum(), batch.spans.shape[0]
        return (tokens * n_tokens + spans * n_spans) / (n_tokens + n_spans).clamp(min=1)

    def _observe(self, ce_term: float, kd_term: float) -> None:
        """Warn (once) when one weighted term is over ``SCALE_RATIO`` times the other early in training."""
        self._seen.append((ce_term, kd_term))
        if len(self._seen) < SCALE_STEPS:
            return
        ce_mean = sum(c for c, _ in self._seen) / len(self._seen)
        kd_mean = sum(k for _, k in self._seen) / len(self._seen)
        big, small = max(ce_mean, kd_mean), min(ce_mean, kd_mean)
        if small <= 0 or big / small > SCALE_RATIO:
            ce_raw, kd_raw = ce_mean / (1 - self.weight), kd_mean / self.weight
            balanced = ce_raw / (ce_raw + kd_raw) if ce_raw + kd_raw > 0 else 0.5
            which = "the KD term" if kd_mean > ce_mean else "cross-entropy"
            self.scale_warning = (
                f"{which} dominates the loss over the first {SCALE_STEPS} batches: (1-W)*CE = {ce_mean:.4g}, "
                f"W*T^2*KD = {kd_mean:.4g} (W = {self.weight}); --kd-weight {balanced:.2f} would weigh them "
                "equally"
            )


def _running_logprobs(student: Tensor, labels: Tensor) -> Tensor:
    """``[B, T + 1]``: entry ``i`` sums the student's log-probs of labels ``0 .. i-1`` (ignored ones: 0)."""
    logits = student.float()
    picked = logits.gather(-1, labels.clamp(min=0)[..., None])[..., 0] - torch.logsumexp(logits, dim=-1)
    picked = torch.where(labels != IGNORE_INDEX, picked, 0.0)
    return torch.nn.functional.pad(picked.cumsum(dim=1), (1, 0))


def _joint_rows(student: Tensor, running: Tensor, keep: Tensor, prefix: Tensor) -> Tensor:
    """The kept positions as ``[1, N, V + 1]`` log-probs of "the leading tokens, then token x" for each x.

    A position with ``n`` leading tokens (``prefix``) gets ``log q(leading) + log q(x | ...)`` for every
    x and one extra entry ``log(1 - q(leading))``: still a distribution, so the top-k loss reads the
    joint probability of each mapped alternative, and the extra entry falls into the student's tail.
    """
    rows = torch.log_softmax(student[keep].float(), dim=-1)
    batch_row, position = keep.nonzero(as_tuple=True)
    n = prefix[keep]
    leading = running[batch_row, position] - running[batch_row, position - n]
    capped = leading.clamp(max=MAX_LOGPROB)
    rest = torch.where(n > 0, torch.log(-torch.expm1(capped)), -math.inf)
    return torch.cat([rows + leading[:, None], rest[:, None]], dim=-1)[None]
