"""Teacher-forced scoring: what a model predicts at every position of token sequences it is given.

The one loop over a model's logits that evaluation, the contest and the proofs share:

    for batch in forward_logits(model, sequences, batch_size=8):   # batches within a memory budget
        batch.logits      # float32 [B, L, V]; [b, t] is the distribution of token t+1 given tokens 0..t
    scored = score(model, sequences, top_k=5)                      # per sequence, log-probs (and top-k)
    scored = score(model, sequences, draws=12, draw_seed=0)        # ... and ids drawn per position

Rows are right-padded and grouped by `logit_batches`, so one forward pass holds at most `budget` bytes of
logits however large the vocabulary (`--batch-size` stays a ceiling). Scores do not depend on how rows were
grouped: each row's logits depend on its own tokens only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from distillab.logit_batches import LOGITS_BUDGET, logit_batches
from distillab.models.draws import Draws, draw, draw_generator


@dataclass
class LogitsBatch:
    """One forward pass over some of the sequences."""

    rows: list[int]
    """Indices into the sequences given, in batch order."""
    input_ids: torch.Tensor
    """[B, L] right-padded ids, on the model's device."""
    attention_mask: torch.Tensor
    """[B, L], 1 for real tokens."""
    logits: torch.Tensor
    """float32 [B, L, V]: [b, t] is the distribution of token t+1 given tokens 0..t."""


@dataclass
class Scored:
    """What the model gave one sequence of N tokens (positions 1..N-1: the first token has no context)."""

    token_logprobs: torch.Tensor
    """float32 [N-1]: log p(ids[t+1] | ids[0..t])."""
    top_ids: torch.Tensor | None = None
    """int64 [N-1, k]: the k most likely next tokens at each position (None when top_k was 0)."""
    top_logprobs: torch.Tensor | None = None
    """float32 [N-1, k]: their log-probabilities, decreasing."""
    draws: Draws | None = None
    """Ids drawn at each of the N-1 positions (None when draws was 0); see `distillab.models.draws`."""


def vocab_rows(model: PreTrainedModel) -> int:
    """The number of logits the model gives per position (its output embedding's rows)."""
    return int(model.get_output_embeddings().weight.shape[0])


@torch.inference_mode()
def forward_logits(
    model: PreTrainedModel,
    sequences: Sequence[Sequence[int]],
    *,
    batch_size: int = 16,
    budget: int = LOGITS_BUDGET,
    pad_id: int = 0,
) -> Iterator[LogitsBatch]:
    """Teacher-forced logits for `sequences` (each non-empty), in batches of similar rows that fit
    `budget`."""
    device = next(model.parameters()).device
    for group in logit_batches([len(s) for s in sequences], vocab_rows(model), batch_size, budget):
        length = max(len(sequences[i]) for i in group)
        ids = torch.full((len(group), length), pad_id, dtype=torch.long)
        mask = torch.zeros((len(group), length), dtype=torch.long)
        for row, i in enumerate(group):
            ids[row, : len(sequences[i])] = torch.as_tensor(list(sequences[i]), dtype=torch.long)
            mask[row, : len(sequences[i])] = 1
        ids, mask = ids.to(device), mask.to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.float()
        yield LogitsBatch(group, ids, mask, logits)


def score(
    model: PreTrainedModel,
    sequences: Sequence[Sequence[int]],
    *,
    top_k: int = 0,
    draws: int = 0,
    draw_seed: int | None = None,
    batch_size: int = 16,
    budget: int = LOGITS_BUDGET,
) -> list[Scored]:
    """Per sequence: the log-probability of each next token, and the `top_k` most likely alternatives.

    With `draws`, also that many ids drawn at each position from the model's distribution, by a
    generator seeded from `draw_seed` and the sequence's own ids (so the draws do not depend on which
    other sequences were scored with it). Computed as logit - logsumexp(logits), so no full [B, L, V]
    log-softmax copy is made. Results are on the CPU, in the order of `sequences`.
    """
    out: list[Scored | None] = [None] * len(sequences)
    for batch in forward_logits(model, sequences, batch_size=batch_size, budget=budget):
        logits = batch.logits[:, :-1]
        following = batch.input_ids[:, 1:]
        norm = torch.logsumexp(logits, dim=-1)
        picked = logits.gather(-1, following[..., None])[..., 0] - norm
        top = logits.topk(min(top_k, logits.shape[-1]), dim=-1) if top_k else None
        for row, i in enumerate(batch.rows):
            n = len(sequences[i]) - 1
            drawn = None
            if draws:
                generator = draw_generator(draw_seed, sequences[i], logits.device)
                drawn = draw(logits[row, :n] - norm[row, :n, None], draws, generator)
            out[i] = Scored(
                picked[row, :n].cpu(),
                top.indices[row, :n].cpu() if top is not None else None,
                (top.values[row, :n] - norm[row, :n, None]).cpu() if top is not None else None,
                drawn,
            )
    return [s for s in out if s is not None]
