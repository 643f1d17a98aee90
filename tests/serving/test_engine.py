"""The engine against independent references: HF generate, a plain forward pass, itself in other batches."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, T5Config

from distillab.errors import ModelError, RequestError
from distillab.models.generate import Engine, EngineRequest
from distillab.teacher.base import SamplingParams


@pytest.fixture(scope="module")
def sharp_engine(tiny_model_dir: Path) -> Engine:
    """The tiny model with weights scaled up: a random model's greedy output is less repetitive that way."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(30**0.5)
    return Engine(model, AutoTokenizer.from_pretrained(tiny_model_dir))


def test_greedy_batch_equals_hf_generate_one_by_one(sharp_engine: Engine) -> None:
    rng = random.Random(0)
    prompts = [
        [rng.randrange(5, sharp_engine.vocab_size) for _ in range(length)] for length in (3, 17, 9, 30)
    ]
    gens = sharp_engine.generate(
        [EngineRequest(p, SamplingParams(temperature=0.0, max_tokens=12)) for p in prompts]
    )
    distinct = set()
    for prompt, gen in zip(prompts, gens):
        ref = sharp_engine.model.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            do_sample=False,
            max_new_tokens=12,
        )[0, len(prompt) :].tolist()
        ids = gen.samples[0].token_ids
        assert ids == ref[: len(ids)]
        distinct.update(ids or [])
    assert len(distinct) > 4  # the comparison is not between four runs of one repeated token


def test_logprobs_are_raw_model_logprobs_and_topk_sorted(engine: Engine) -> None:
    prompt = engine.encode_text("Ann has 3 pens.")
    params = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=10, seed=1, top_logprobs=20)
    sample = engine.generate([EngineRequest(prompt, params)])[0].samples[0]
    ids = sample.token_ids or []
    logits = engine.logits(torch.tensor([prompt + ids]))[0, len(prompt) - 1 : -1]
    expected = torch.log_softmax(logits, dim=-1)
    for pos, token in enumerate(ids):
        assert sample.token_logprobs[pos] == pytest.approx(float(expected[pos, token]), abs=1e-4)  # type: ignore[index]
        tops = sample.top_logprobs[pos]  # type: ignore[index]
        assert len(tops) == 20 and tops == sorted(tops, reverse=True) and tops[0] <= 0
        assert tops == pytest.approx(expected[pos].topk(20).values.tolist(), abs=1e-4)
        assert sample.tokens[pos] == engine.vocab.piece(token)


def test_seed_gives_same_tokens_alone_and_among_neighbours(engine: Engine) -> None:
    prompt = engine.encode_chat([{"role": "user", "content": "hello"}])
    seeded = EngineRequest(prompt, SamplingParams(max_tokens=15, seed=42), n=2)
    alone = engine.generate([seeded])[0]
    neighbours = [
        EngineRequest(engine.encode_text("x" * k), SamplingParams(max_tokens=k + 3)) for k in (1, 7, 20)
    ]
    crowded = engine.generate(
        [neighbours[0], EngineRequest(prompt, SamplingParams(max_tokens=15, seed=42), n=2), *neighbours[1:]]
    )[1]
    assert [s.token_ids for s in alone.samples] == [s.token_ids for s in crowded.samples]
    assert alone.samples[0].token_ids != alone.samples[1].token_ids  # sample i uses seed + i


def test_eos_ends_a_sample_with_stop_and_counts_as_a_token(engine: Engine) -> None:
    prompt = engine.encode_text("import json")
    free = engine.generate([EngineRequest(prompt, SamplingParams(temperature=0.0, max_tokens=8))])[0].samples[
        0
    ]
    third = (free.token_ids or [])[2]
    original = engine.eos_ids
    engine.eos_ids = {third}
    try:
        sample = engine.generate([EngineRequest(prompt, SamplingParams(temperature=0.0, max_tokens=8))])[
            0
        ].samples[0]
    finally:
        engine.eos_ids = original
    first_hit = (free.token_ids or []).index(third)
    assert sample.finish_reason == "stop"
    assert sample.token_ids == (free.token_ids or [])[: first_hit + 1]


def test_budget_is_clipped_to_context_and_long_prompts_rejected(engine: Engine) -> None:
    assert engine.context_length == 256
    prompt = [7] * 250
    gen = engine.generate([EngineRequest(prompt, SamplingParams(max_tokens=100))])[0]
    assert gen.completion_tokens <= 6
    with pytest.raises(RequestError, match="context length"):
        engine.check(EngineRequest([7] * 256))
    with pytest.raises(RequestError, match="top_p"):
        engine.check(EngineRequest([7], SamplingParams(top_p=0.0)))


def test_logits_ignore_padding_side(engine: Engine) -> None:
    seq = engine.encode_text("She gets 4 more.")
    pad = engine.pad_id
    right = torch.tensor([seq + [pad] * 3])
    left = torch.tensor([[pad] * 3 + seq])
    mask_right = torch.tensor([[1] * len(seq) + [0] * 3])
    mask_left = torch.tensor([[0] * 3 + [1] * len(seq)])
    plain = engine.logits(torch.tensor([seq]))
    assert plain.shape == (1, len(seq), engine.vocab_size)
    torch.testing.assert_close(engine.logits(right, mask_right)[:, : len(seq)], plain, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(engine.logits(left, mask_left)[:, 3:], plain, atol=1e-4, rtol=1e-4)


def test_load_errors_name_the_path(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        Engine.load(tmp_path / "missing")
    with pytest.raises(ModelError, match="no config.json"):
        Engine.load(tmp_path)
    not_causal = tmp_path / "t5"
    T5Config(vocab_size=400, d_model=8, d_kv=4, d_ff=8, num_layers=1, num_heads=2).save_pretrained(not_causal)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(not_causal)
    with pytest.raises(ModelError, match=f"{not_causal}.*not a causal language model"):
        Engine.load(not_causal)
