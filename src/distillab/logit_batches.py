"""Batches for scoring texts under teacher forcing, cut so that one forward pass's logits fit in memory.

A forward pass over B rows of length L holds [B, L, V] logits: with a real vocabulary (V = 150k), 8 rows
of 512 tokens are 2.5 GB of float32 before any log-softmax or topk temporary. `logit_batches` takes at
most `batch_size` rows at a time and fewer where the longest row would push the logits past `budget`
bytes (always at least one row), so `--batch-size` stays a ceiling and memory a bound:

    for group in logit_batches([len(ids) for ids in rows], vocab=model.config.vocab_size, batch_size=8):
        ...  # forward rows[group]

Scores do not depend on how the rows were grouped (each row's logits depend on its own tokens only).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

LOGITS_BUDGET = 1 << 30
"""Bytes of float32 logits one forward pass may hold (1 GiB); temporaries take about as much again."""


def logit_batches(
    lengths: Sequence[int], vocab: int, batch_size: int, budget: int = LOGITS_BUDGET
) -> Iterator[list[int]]:
    """Groups of consecutive indices into `lengths`: at most `batch_size` each, and no more rows than keep
    rows x longest x `vocab` float32 logits within `budget` bytes (one row when even one is larger)."""
    if batch_size < 1 or vocab < 1:
        raise ValueError(f"batch_size and vocab must be >= 1, got {batch_size} and {vocab}")
    group: list[int] = []
    longest = 0
    for i, length in enumerate(lengths):
        wider = max(longest, length)
        if group and (len(group) == batch_size or (len(group) + 1) * wider * vocab * 4 > budget):
            yield group
            group, wider = [], length
        group.append(i)
        longest = wider
    if group:
        yield group
