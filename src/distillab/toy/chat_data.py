"""Chat-formatted training examples for the toy teacher: tokenised once, loss only on the answer.

Each (user, assistant) pair is rendered with the tokenizer's own chat template, so the teacher learns
exactly the format a server renders at inference time. The prompt part (user turn plus the assistant
header) gets label -100; the answer and its end-of-turn token are learned.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from distillab.errors import DataError

IGNORE = -100


@dataclass(frozen=True)
class Example:
    """A tokenised conversation; the first `n_prompt` tokens are the prompt and carry no loss."""

    input_ids: list[int]
    n_prompt: int


def user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def encode_chats(
    tokenizer: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]], max_length: int
) -> list[Example]:
    """Tokenise (prompt, answer) pairs, cutting each to `max_length` tokens."""
    prompts = tokenizer.apply_chat_template(
        [user(p) for p, _ in pairs], tokenize=False, add_generation_prompt=True
    )
    fulls = tokenizer.apply_chat_template(
        [user(p) + [{"role": "assistant", "content": a}] for p, a in pairs], tokenize=False
    )
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(list(fulls), add_special_tokens=False)["input_ids"]
    examples = []
    for i, (p_ids, f_ids) in enumerate(zip(prompt_ids, full_ids)):
        if f_ids[: len(p_ids)] != p_ids:
            raise DataError(
                f"chat template: the prompt of example {i} does not tokenise to a prefix of "
                "the full conversation, so the answer tokens cannot be located"
            )
        if len(p_ids) < max_length:
            examples.append(Example(f_ids[:max_length], len(p_ids)))
    return examples


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch to its longest example; labels are -100 on prompt and padding."""
    length = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), length), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, e.n_prompt : n] = ids[row, e.n_prompt : n]
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def batches(
    examples: Sequence[Example], batch_size: int, pad_id: int, seed: int
) -> Iterator[dict[str, torch.Tensor]]:
    """Endless shuffled batches of similar-length examples, reshuffled every epoch.

    Each epoch is shuffled, cut into windows of 50 batches, and each window sorted by length before it
    is cut into batches: padding (pure wasted compute on CPU) drops while batches stay random.
    """
    if not examples:
        raise DataError("no training examples: every example was longer than the maximum length")
    batch_size = min(batch_size, len(examples))
    rng = random.Random(seed)
    order = list(range(len(examples)))
    window = 50 * batch_size
    while True:
        rng.shuffle(order)
        epoch: list[list[int]] = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda i: len(examples[i].input_ids))
            epoch += [chunk[i : i + batch_size] for i in range(0, len(chunk) - batch_size + 1, batch_size)]
        rng.shuffle(epoch)
        for batch in epoch:
            yield collate([examples[i] for i in batch], pad_id)


def answer_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over answer tokens (labels != -100), batch["labels"] of shape (batch, seq).

    Logits are computed only from the batch's earliest answer position on (`logits_to_keep`): the
    prompt is most of each sequence and its logits would be thrown away. Right padding under a causal
    mask never lets a real token see a pad, so no attention mask is passed, which keeps attention on
    the fast path.
    """
    labels = batch["labels"]
    first = int((labels != IGNORE).int().argmax(dim=1).min())
    logits = model(input_ids=batch["input_ids"], logits_to_keep=labels.shape[1] - first + 1).logits
    predicted = logits[:, :-1].flatten(0, 1).float()
    return torch.nn.functional.cross_entropy(predicted, labels[:, first:].flatten(), ignore_index=IGNORE)
