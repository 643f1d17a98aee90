"""The contest's capability score on the text task: held-out loss on real text, as a share of the teacher's.

The text task has no right answers, and agreement with the teacher is the wrong yardstick here: a student
of the watermarked service learns the watermark's bias, so it agrees *less* with the plain teacher the more
it copied. The task's own held-out reference continuations are neutral ground: every model is scored by its
mean cross-entropy on them (the prompt given, teacher forcing, the same chat rendering as training), and

    score = (loss(untrained student) - loss(model)) / (loss(untrained student) - loss(teacher))

is the share of the teacher's gain over the untrained student that the model reached: the teacher scores
100%, the untrained student 0%.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.logit_batches import logit_batches
from distillab.train.collate import collate
from distillab.train.encode import encode_records
from distillab.train.losses import IGNORE_INDEX

MAX_LENGTH = 128
BATCH = 16


def reference_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prompt rows with a 'reference' continuation as the records `encode_records` reads."""
    return [
        {
            "id": row["id"],
            "prompt_id": row["id"],
            "messages": row["messages"],
            "prompt": None,
            "completion": row["reference"],
            "finish_reason": "stop",
            "token_ids": None,
            "tokens": None,
            "top_logprobs": None,
            "top_ids": None,
            "top_tokens": None,
        }
        for row in rows
    ]


@torch.no_grad()
def reference_loss(model_dir: Path, rows: list[dict[str, Any]]) -> float:
    """Mean cross-entropy (nats per token) of `model_dir` on the rows' reference continuations."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    examples, _ = encode_records(
        reference_records(rows),
        tokenizer,
        vocab_size=model.config.vocab_size,
        max_length=MAX_LENGTH,
        with_signal=False,
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    total, count = 0.0, 0
    for group in logit_batches([len(e.input_ids) for e in examples], model.config.vocab_size, BATCH):
        batch = collate([examples[i] for i in group], pad, top_k=0)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1]
        labels = batch.labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            labels.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        total += float(loss)
        count += int((labels != IGNORE_INDEX).sum())
    return total / count if count else math.nan


def share_of_teacher(loss: float, untrained: float, teacher: float) -> float | None:
    """(untrained - loss) / (untrained - teacher); None when the teacher is no better than the untrained."""
    gap = untrained - teacher
    return None if not gap > 0 or math.isnan(loss) else (untrained - loss) / gap
