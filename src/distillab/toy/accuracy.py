"""Greedy-decoding accuracy of a chat model on arith problems: the number the teacher is judged by.

Prompts are rendered with the model's chat template and generated in left-padded batches with
`model.generate`, exactly as a local Hugging Face teacher would answer them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distillab.toy.arith import Problem, is_correct


@torch.no_grad()
def greedy_answers(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                   *, batch_size: int = 128, max_new_tokens: int = 64) -> list[str]:
    """Greedy completions of chat `prompts` (user messages), decoded without special tokens."""
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation appends on the right, so padding must go left
    was_training = model.training
    model.eval()
    texts: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chats = [[{"role": "user", "content": p}] for p in prompts[start:start + batch_size]]
            rendered = tokenizer.apply_chat_template(chats, tokenize=False, add_generation_prompt=True)
            batch = tokenizer(list(rendered), return_tensors="pt", padding=True, add_special_tokens=False)
            out = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens)
            texts += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return texts


def arith_accuracy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, problems: Sequence[Problem],
                   *, batch_size: int = 128) -> float:
    """Fraction of `problems` whose greedy answer states the right final number."""
    if not problems:
        return 0.0
    answers = greedy_answers(model, tokenizer, [p.prompt for p in problems], batch_size=batch_size)
    return sum(is_correct(a, p) for a, p in zip(answers, problems)) / len(problems)
