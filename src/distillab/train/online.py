"""Online distillation: a local teacher's full logits on the training batch, and on-policy batches.

With ``--teacher``, the teacher runs a forward pass (no gradient, eval mode, its own device and dtype)
on exactly the sequences the student trains on, so the KD term sees the teacher's whole distribution
at every completion position instead of a stored top-k.

On-policy (``--on-policy LAMBDA``, GKD, Agarwal et al. 2024): for a fraction LAMBDA of micro-batches
the student first samples its own completions for the batch's prompts, and the teacher scores those.
This is a plain implementation rather than TRL's ``GKDTrainer``: that trainer owns the whole loop (its
own dataset format and ``Trainer`` subclass, in ``trl.experimental``) and has no place for the
harvest's top-k signal, whereas here the on-policy step is one function that returns an ordinary
``Batch`` for the same objective. Which micro-batches are on-policy, and the sampling itself, are
seeded by (seed, micro-batch), so a resumed run samples the same completions.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from torch import Tensor
from transformers import GenerationConfig, PreTrainedModel

from distillab.models.load import load_model
from distillab.train.collate import Batch, collate
from distillab.train.encode import Example
from distillab.train.losses import IGNORE_INDEX


class OnlineTeacher:
    """A frozen local teacher that scores training batches."""

    def __init__(self, model: PreTrainedModel):
        self.model = model.eval().requires_grad_(False)
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, path: Path, *, device: str, dtype: str) -> OnlineTeacher:
        model, _ = load_model(path, device=device, dtype=dtype)
        return cls(model)

    @torch.no_grad()
    def logits(self, batch: Batch) -> Tensor:
        """``[B, L, V_teacher]`` logits on the teacher's device (the loss moves what it needs)."""
        out = self.model(
            input_ids=batch.input_ids.to(self.device),
            attention_mask=batch.attention_mask.to(self.device),
            use_cache=False,
        )
        return out.logits


def is_on_policy(fraction: float, seed: int, micro: int) -> bool:
    """Whether global micro-batch ``micro`` is on-policy: a pure function, so resume repeats it."""
    return fraction > 0 and random.Random(f"{seed}:on-policy:{micro}").random() < fraction


def _prompts(batch: Batch) -> list[list[int]]:
    prompts = []
    rows = zip(batch.input_ids.tolist(), batch.labels.tolist(), batch.attention_mask.tolist())
    for ids, labels, mask in rows:
        n = next((t for t, label in enumerate(labels) if label != IGNORE_INDEX), sum(mask))
        prompts.append(ids[:n])
    return prompts


@torch.no_grad()
def on_policy_batch(
    model: PreTrainedModel, batch: Batch, *, pad_id: int, max_new_tokens: int, max_length: int, seed: int
) -> Batch:
    """The batch's prompts with completions sampled from ``model`` (temperature 1, no truncation)."""
    prompts = _prompts(batch)
    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):  # left padding: generation appends on the right
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    config = GenerationConfig(
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        max_new_tokens=max_new_tokens,
        eos_token_id=list(eos_ids) or None,
        pad_token_id=pad_id,
    )
    was_training = model.training
    model.eval()
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            # generate comes from GenerationMixin on the concrete class; mypy sees nn.Module.__getattr__
            out = model.generate(  # type: ignore[operator]
                input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config
            )
    finally:
        model.train(was_training)
    examples = []
    for prompt, new in zip(prompts, out[:, width:].tolist()):
        end = next((t + 1 for t, token in enumerate(new) if token in eos_ids), len(new))
        examples.append(Example((prompt + new[:end])[:max_length], len(prompt), ""))
    return collate(examples, pad_id, top_k=0)
