"""How good a toy teacher is: greedy arith accuracy on the test split, held-out loss on text.

Prompts are rendered with the model's chat template and generated in left-padded batches with
`model.generate`, exactly as a local Hugging Face teacher would answer them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distillab.toy import arith, text
from distillab.toy.arith import Problem, is_correct
from distillab.toy.chat_data import answer_loss, collate, encode_chats
from distillab.toy.config import TeacherConfig


@torch.no_grad()
def greedy_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    batch_size: int = 128,
    max_new_tokens: int = 48,
) -> list[str]:
    """Greedy completions of chat `prompts` (user messages), decoded without special tokens."""
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation appends on the right, so padding must go left
    was_training = model.training
    model.eval()
    texts: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chats = [[{"role": "user", "content": p}] for p in prompts[start : start + batch_size]]
            rendered = tokenizer.apply_chat_template(chats, tokenize=False, add_generation_prompt=True)
            batch = tokenizer(list(rendered), return_tensors="pt", padding=True, add_special_tokens=False)
            out = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens)  # type: ignore[operator]
            texts += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return texts


def arith_accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    problems: Sequence[Problem],
    *,
    batch_size: int = 128,
) -> float:
    """Fraction of `problems` whose greedy answer states the right final number."""
    if not problems:
        return 0.0
    answers = greedy_answers(model, tokenizer, [p.prompt for p in problems], batch_size=batch_size)
    return sum(is_correct(a, p) for a, p in zip(answers, problems)) / len(problems)


@torch.no_grad()
def heldout_loss(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]]
) -> float:
    """Mean per-token cross-entropy on the answer part of held-out (prompt, answer) pairs."""
    examples = encode_chats(tokenizer, pairs, max_length=192)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), 32):
        batch = collate(examples[start : start + 32], tokenizer.pad_token_id)
        n = int((batch["labels"] != -100).sum())
        total += float(answer_loss(model, batch)) * n
        count += n
    model.train(was_training)
    return total / max(count, 1)


def evaluate(
    config: TeacherConfig, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
) -> dict[str, float]:
    """Test-split numbers for the tasks `config` trains: arith accuracy and/or text held-out loss."""
    results: dict[str, float] = {}
    if config.task in ("arith", "mix") and config.eval_size:
        tests = arith.problems("test", config.eval_size, seed=config.seed)
        results["arith_accuracy"] = arith_accuracy(model, tokenizer, tests)
    if config.task in ("text", "mix") and config.eval_size:
        passages = text.passages("test", min(config.eval_size, 200), seed=config.seed)
        results["text_loss"] = heldout_loss(model, tokenizer, [(p.prompt, p.continuation) for p in passages])
    return results
