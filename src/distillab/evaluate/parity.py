"""How close a student is to its teacher, on the teacher's own held-out outputs.

The teacher answers the evaluation prompts (greedy, with its top-k log-probabilities when it exposes
them); the student then reads each prompt + teacher answer under teacher forcing, and at every answer
token we compare:

- **top-1 agreement**: the student's most likely next token is the token the teacher wrote;
- **KL(teacher || student)** over the teacher's top-k plus one tail bucket (the same estimator
  top-k distillation trains with, ``forward_kl_topk``; exact when k is the whole vocabulary).

Token-level numbers need the student's weights and its tokenizer to be the teacher's (token strings
from an API are mapped back, as in training); otherwise they are left out with a note saying why.
Final-answer agreement (same extracted answer) only needs both models' text, see ``run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from distillab.evaluate.result import TokenParity
from distillab.models.load import load_model
from distillab.models.scoring import forward_logits
from distillab.train.collate import collate
from distillab.train.encode import encode_records
from distillab.train.losses import IGNORE_INDEX
from distillab.train.losses.forward_kl import forward_kl_topk

MIN_ALIGNED = 0.5
"""Below this share of the teacher's tokens reproduced by the student's tokenizer, they differ."""


@torch.no_grad()
def token_parity(
    student: Path, teacher_records: list[dict[str, Any]], *, max_length: int = 1024, batch_size: int = 16
) -> TokenParity:
    """Top-1 agreement and top-k KL of ``student`` on the teacher's answers (harvest records)."""
    model, tokenizer = load_model(student, device="cpu", dtype="float32")
    records = [r for r in teacher_records if r["completion"]]
    if not records:
        return TokenParity(None, None, 0, "the teacher gave no answers")
    rows = model.get_output_embeddings().weight.shape[0]
    examples, stats = encode_records(
        records, tokenizer, vocab_size=rows, max_length=max_length, with_signal=True
    )
    if stats.aligned_fraction < MIN_ALIGNED:
        return TokenParity(
            None,
            None,
            0,
            f"the student's tokenizer reproduces only {stats.aligned_fraction:.0%} "
            "of the teacher's tokens, so tokens cannot be compared",
        )
    agree = kl_sum = 0.0
    positions = kl_positions = 0
    for scored in forward_logits(model, [e.input_ids for e in examples], batch_size=batch_size):
        batch = collate([examples[i] for i in scored.rows], 0, stats.top_k)
        logits = scored.logits[:, :-1]
        labels = batch.labels[:, 1:]
        kept = labels != IGNORE_INDEX
        agree += float((logits.argmax(-1) == labels)[kept].sum())
        positions += int(kept.sum())
        if batch.topk_ids is not None and batch.topk_logprobs is not None:
            mask = batch.kd_mask[:, 1:]
            n = int(mask.sum())
            if n:
                kl = forward_kl_topk(logits, batch.topk_ids[:, 1:], batch.topk_logprobs[:, 1:], mask)
                kl_sum += float(kl) * n
                kl_positions += n
    note = "" if kl_positions else "the teacher gave no log-probabilities: KL left out"
    return TokenParity(
        agree / positions if positions else None,
        kl_sum / kl_positions if kl_positions else None,
        positions,
        note,
    )
