"""The pure pieces: nucleus filtering, sampling, incremental text with stop strings."""

from __future__ import annotations

import json

import torch

from distillab.models.generate import Engine
from distillab.models.sampling import sample_token, top_p_filter
from distillab.models.text import TextTracker
from distillab.openai_wire.responses import chat_token_logprob, completion_logprobs


def test_top_p_keeps_smallest_set_reaching_mass() -> None:
    probs = torch.tensor([0.1, 0.5, 0.3, 0.1])

    def kept(top_p: float) -> list[bool]:
        return (top_p_filter(probs, top_p) > 0).tolist()

    assert kept(0.5) == [False, True, False, False]
    assert kept(0.75) == [False, True, True, False]
    assert kept(0.85).count(True) == 3
    assert kept(1e-6) == [False, True, False, False]  # never empty: the top token stays
    assert kept(1.0) == [True] * 4


def test_greedy_and_seeded_sampling() -> None:
    logprobs = torch.log_softmax(torch.tensor([0.0, 2.0, 1.0, -1.0]), dim=-1)
    assert sample_token(logprobs, 0.0, 1.0, None) == 1
    draws = [sample_token(logprobs, 1.0, 1.0, torch.Generator().manual_seed(s)) for s in range(200)]
    again = [sample_token(logprobs, 1.0, 1.0, torch.Generator().manual_seed(s)) for s in range(200)]
    assert draws == again
    assert set(draws) == {0, 1, 2, 3}
    assert {sample_token(logprobs, 1.0, 0.5, torch.Generator().manual_seed(s)) for s in range(50)} == {1}


def _stream(engine: Engine, text: str, stop: list[str]) -> tuple[list[str], TextTracker]:
    tracker = TextTracker(engine.tokenizer, stop)
    deltas = []
    for token in engine.tokenizer(text, add_special_tokens=False)["input_ids"]:
        deltas.append(tracker.push(token))
        if tracker.stopped:
            break
    deltas.append(tracker.finish())
    return deltas, tracker


def test_text_tracker_cuts_at_stop_and_never_leaks_it(engine: Engine) -> None:
    text = "Ann has 3 pens. She gets 4 more. Answer: 7"
    deltas, tracker = _stream(engine, text, ["gets 4", "nothing"])
    assert tracker.stopped and tracker.text == "Ann has 3 pens. She "
    assert "".join(deltas) == tracker.text
    assert not any("gets" in d for d in deltas)

    deltas, tracker = _stream(engine, text, ["Answer: 8"])  # a prefix of the stop appears, the stop does not
    assert not tracker.stopped and "".join(deltas) == text


def test_text_tracker_handles_multibyte_characters(engine: Engine) -> None:
    text = "café — naïve ünïcode ✓"
    deltas, _ = _stream(engine, text, [])
    assert "".join(deltas) == text


def test_impossible_tokens_stay_valid_json(engine: Engine) -> None:
    entry = chat_token_logprob(engine.vocab, 5, float("-inf"), [5], [float("-inf")], as_ids=False)
    legacy = completion_logprobs(engine.vocab, [5], [float("-inf")], [[5]], [[float("-inf")]], as_ids=True)
    json.dumps([entry, legacy], allow_nan=False)
