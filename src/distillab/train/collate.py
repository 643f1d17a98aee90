"""Batches: which examples go into each micro-batch, and how they become padded tensors.

Data order is a pure function of (seed, position): the training examples are one endless stream of
epochs, each a fresh permutation seeded by ``(seed, epoch)``, and global micro-batch ``m`` is the
stream slice ``[m * size * world, (m + 1) * size * world)`` with each process taking its own
``size``-long part. So there is no sampler state to save: a resumed run recomputes exactly the batches
the interrupted one would have seen, on any number of steps already done.

Per-token targets all live at the position of the token they describe (``labels[b, t]`` is token
``t``; ``topk_*[b, t]`` and ``draw_*[b, t]`` describe the teacher's distribution for token ``t``). The
objective does the one shift (logits at ``t - 1`` predict token ``t``) in one place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache

import torch
from torch import Tensor

from distillab.train.encode import Example
from distillab.train.losses import IGNORE_INDEX


@dataclass
class Batch:
    """A right-padded micro-batch. ``topk_*`` (``draw_*``, ``entropy``) are None when the data has no
    teacher top-k (no drawn ids)."""

    input_ids: Tensor
    """``[B, L]`` int64."""
    attention_mask: Tensor
    """``[B, L]`` int64, 1 on real tokens."""
    labels: Tensor
    """``[B, L]`` int64: the token on completion positions, ``IGNORE_INDEX`` on prompt and padding."""
    kd_mask: Tensor
    """``[B, L]`` bool: completion positions with a teacher top-k distribution (or drawn ids)."""
    topk_ids: Tensor | None
    """``[B, L, K]`` int64, ``-1`` where there is no id."""
    topk_logprobs: Tensor | None
    """``[B, L, K]`` float32."""
    draw_ids: Tensor | None = None
    """``[B, L, D]`` int64, ``-1`` where there is no id."""
    draw_counts: Tensor | None = None
    """``[B, L, D]`` float32, 0 where there is no id."""
    entropy: Tensor | None = None
    """``[B, L]`` float32, the teacher's entropy at each token with draws (0 elsewhere)."""
    kd_prefix: Tensor | None = None
    """``[B, L]`` int64, cross-tokenizer: leading student tokens scored jointly with a top-k position."""
    spans: Tensor | None = None
    """``[G, 3]`` int64 (row, first token position, last + 1), cross-tokenizer spans; None without any."""
    span_logprobs: Tensor | None = None
    """``[G]`` float32, the teacher's log-probability of each span."""

    def to(self, device: torch.device) -> Batch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{k: v.to(device) if isinstance(v, Tensor) else v for k, v in moved.items()})

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())


def collate(examples: Sequence[Example], pad_id: int, top_k: int) -> Batch:
    """Right-pad ``examples`` to their longest; attach the top-k signal when ``top_k > 0``, and the drawn
    ids when the examples have them (as wide as the batch's widest position)."""
    length = max(len(e.input_ids) for e in examples)
    shape = (len(examples), length)
    ids = torch.full(shape, pad_id, dtype=torch.long)
    mask = torch.zeros(shape, dtype=torch.long)
    labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
    kd_mask = torch.zeros(shape, dtype=torch.bool)
    topk_ids = torch.full((*shape, top_k), -1, dtype=torch.long) if top_k else None
    topk_lp = torch.full((*shape, top_k), -math.inf, dtype=torch.float32) if top_k else None
    width = max((e.draw_ids.shape[1] for e in examples if e.draw_ids is not None), default=0)
    draw_ids = torch.full((*shape, width), -1, dtype=torch.long) if width else None
    draw_counts = torch.zeros((*shape, width), dtype=torch.float32) if width else None
    entropy = torch.zeros(shape, dtype=torch.float32) if width else None
    joint = any(e.kd_prefix is not None for e in examples)
    kd_prefix = torch.zeros(shape, dtype=torch.long) if joint else None
    spans: list[tuple[int, int, int]] = []
    span_lps: list[float] = []
    for row, e in enumerate(examples):
        n, p = len(e.input_ids), e.n_prompt
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        labels[row, p:n] = ids[row, p:n]
        if topk_ids is not None and topk_lp is not None and e.topk_ids is not None:
            assert e.topk_logprobs is not None
            s = min(len(e.topk_ids), n - p)
            kd_mask[row, p : p + s] = True if e.kd_positions is None else torch.from_numpy(e.kd_positions[:s])
            topk_ids[row, p : p + s] = torch.from_numpy(e.topk_ids[:s])
            topk_lp[row, p : p + s] = torch.from_numpy(e.topk_logprobs[:s])
            if kd_prefix is not None and e.kd_prefix is not None:
                kd_prefix[row, p : p + s] = torch.from_numpy(e.kd_prefix[:s])
        if draw_ids is not None and e.draw_ids is not None:
            assert draw_counts is not None and entropy is not None
            assert e.draw_counts is not None and e.entropy is not None
            s, d = min(len(e.draw_ids), n - p), e.draw_ids.shape[1]
            kd_mask[row, p : p + s] = True
            draw_ids[row, p : p + s, :d] = torch.from_numpy(e.draw_ids[:s])
            draw_counts[row, p : p + s, :d] = torch.from_numpy(e.draw_counts[:s])
            entropy[row, p : p + s] = torch.from_numpy(e.entropy[:s])
        if top_k and e.spans is not None and e.span_logprobs is not None:
            for (start, end), logprob in zip(e.spans.tolist(), e.span_logprobs.tolist()):
                if p + end <= n:  # a span cut by --max-length is dropped whole
                    spans.append((row, p + start, p + end))
                    span_lps.append(logprob)
    return Batch(
        ids,
        mask,
        labels,
        kd_mask,
        topk_ids,
        topk_lp,
        draw_ids=draw_ids,
        draw_counts=draw_counts,
        entropy=entropy,
        kd_prefix=kd_prefix,
        spans=torch.tensor(spans, dtype=torch.long).reshape(-1, 3) if spans else None,
        span_logprobs=torch.tensor(span_lps, dtype=torch.float32) if spans else None,
    )


@lru_cache(maxsize=4)
def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


def micro_batch(n: int, micro: int, *, size: int, seed: int, rank: int = 0, world: int = 1) -> list[int]:
    """Indices (into the training examples) of global micro-batch ``micro`` for process ``rank``."""
    start = (micro * world + rank) * size
    return [_epoch_order(n, seed, p // n)[p % n] for p in range(start, start + size)]


def total_steps(n: int, *, epochs: float, max_steps: int | None, size: int, world: int, accum: int) -> int:
    """Optimizer steps for the run: ``max_steps``, or enough to see ``epochs`` passes over ``n`` examples."""
    if max_steps is not None:
        return max_steps
    return max(1, math.ceil(epochs * n / (size * world * accum)))
