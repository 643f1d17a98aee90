"""Teacher-forced scoring and the engine's logits processors, on a tiny in-process model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from distillab.models import Engine, EngineRequest, SamplingParams, forward_logits, load_model, score


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    return load_model(tiny_model_dir, device="cpu")


def test_score_is_the_log_softmax_of_one_forward_pass_however_rows_are_batched(loaded) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer = loaded
    texts = ["Ann has 3 pens.", "She gets 4 more. 3 + 4 = 7. Answer: 7", "x"]
    sequences = [tokenizer(t)["input_ids"] for t in texts]
    one_by_one = score(model, sequences, top_k=3, batch_size=1)
    together = score(model, sequences, top_k=3, batch_size=8)
    for seq, a, b in zip(sequences, one_by_one, together):
        with torch.no_grad():
            logprobs = torch.log_softmax(model(torch.tensor([seq])).logits[0, :-1].float(), dim=-1)
        expected = logprobs.gather(-1, torch.tensor(seq[1:])[:, None])[:, 0]
        assert a.token_logprobs.shape == (len(seq) - 1,)
        assert torch.allclose(a.token_logprobs, expected, atol=1e-4)
        assert torch.allclose(a.token_logprobs, b.token_logprobs, atol=1e-4)
        assert a.top_ids is not None and a.top_logprobs is not None
        assert torch.equal(a.top_ids, logprobs.topk(3, dim=-1).indices)
        assert torch.allclose(a.top_logprobs, logprobs.topk(3, dim=-1).values, atol=1e-4)


def test_forward_logits_keeps_each_batch_within_the_memory_budget(loaded) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer = loaded
    sequences = [tokenizer("Ann has 3 pens. " * n)["input_ids"] for n in (1, 2, 3, 4)]
    vocab = model.get_output_embeddings().weight.shape[0]
    budget = 2 * max(len(s) for s in sequences) * vocab * 4  # two of the longest rows
    batches = list(forward_logits(model, sequences, batch_size=16, budget=budget))
    assert sorted(i for b in batches for i in b.rows) == [0, 1, 2, 3]
    assert all(b.logits.numel() * 4 <= budget for b in batches) and len(batches) >= 2


class _Ban:
    """A processor that forbids one token: the engine must apply it to its own request only."""

    def __init__(self, token: int) -> None:
        self.token = token
        self.seen: list[list[int]] = []

    @property
    def width(self) -> int:
        return 2

    def apply(self, logits: torch.Tensor, previous: Sequence[Sequence[int]]) -> torch.Tensor:
        self.seen.extend(list(p) for p in previous)
        out = logits.clone()
        out[:, self.token] = -float("inf")
        return out


def test_a_logits_processor_changes_only_its_own_requests_and_what_they_report(loaded) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer = loaded
    engine = Engine(model, tokenizer)
    prompt = engine.encode_text("Ann has 3 pens.")
    params = SamplingParams(max_tokens=6, temperature=0.0, top_logprobs=2)
    plain = engine.generate([EngineRequest(prompt, params)])[0].samples[0]
    assert plain.token_ids
    banned = _Ban(plain.token_ids[0])
    both = engine.generate([EngineRequest(prompt, params), EngineRequest(prompt, params, processor=banned)])
    same, changed = both[0].samples[0], both[1].samples[0]
    assert same.token_ids == plain.token_ids
    assert changed.token_ids and changed.token_ids[0] != plain.token_ids[0]
    assert changed.top_ids is not None and plain.token_ids[0] not in changed.top_ids[0]
    assert banned.seen[0] == prompt[-2:] and all(len(p) == 2 for p in banned.seen)
