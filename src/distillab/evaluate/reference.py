"""Held-out loss on reference answers, and the share of the teacher's gain a student reached.

Open-ended tasks have no right answers, and agreement with the teacher is not always the right yardstick:
a student of a watermarked service learns the watermark's bias, so it agrees *less* with the plain teacher
the more it copied. Reference answers written by neither model (a docstring for "What does
`textwrap.dedent` do?", the true continuation of a paragraph) are neutral ground: every model is scored by
its mean cross-entropy on them (the prompt given, teacher forcing, the same chat rendering as training), and

    score = (loss(untrained student) - loss(model)) / (loss(untrained student) - loss(teacher))

is the share of the teacher's gain over the untrained student that the model reached: the teacher scores
100%, the untrained student 0%. `distillab eval` reports it when task rows carry a `reference` and the
teacher and the baseline are local models; the contest uses it as its capability score on the text task.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from distillab.models.load import load_model
from distillab.models.scoring import score
from distillab.train.encode import encode_records

MAX_LENGTH = 128
BATCH = 16


def reference_records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prompt rows (`messages` or `prompt`) with a 'reference' continuation as the records
    `encode_records` reads."""
    return [
        {
            "id": row["id"],
            "prompt_id": row["id"],
            "messages": row.get("messages"),
            "prompt": row.get("prompt"),
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


def reference_loss(model_dir: Path, rows: list[dict[str, Any]]) -> float:
    """Mean cross-entropy (nats per token) of `model_dir` on the rows' reference continuations."""
    model, tokenizer = load_model(model_dir, device="cpu", dtype="float32")
    examples, _ = encode_records(
        reference_records(rows),
        tokenizer,
        vocab_size=model.config.vocab_size,
        max_length=MAX_LENGTH,
        with_signal=False,
    )
    scored = score(model, [e.input_ids for e in examples], batch_size=BATCH)
    # token_logprobs[t] scores token t+1: the completion's tokens are n_prompt.. onwards.
    completion = [s.token_logprobs[max(e.n_prompt - 1, 0) :] for e, s in zip(examples, scored)]
    count = sum(len(c) for c in completion)
    return -float(sum(float(c.sum()) for c in completion)) / count if count else math.nan


def share_of_teacher(loss: float, untrained: float, teacher: float) -> float | None:
    """(untrained - loss) / (untrained - teacher); None when the teacher is no better than the untrained."""
    gap = untrained - teacher
    return None if not gap > 0 or math.isnan(loss) else (untrained - loss) / gap
