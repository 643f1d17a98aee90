"""The running batch: rows that join mid-run or leave early decode exactly as they would alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

from distillab.models import Engine, EngineRequest, SamplingParams
from distillab.models.running import Admitted, RunningBatch
from no_eos import NoEos


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> Engine:
    return Engine.load(tiny_model_dir, device="cpu")


def _run(batch: RunningBatch) -> list[Admitted]:
    done = []
    while batch.rows:
        done += batch.step()
    return done


def test_a_request_joining_mid_run_samples_what_it_samples_alone(engine: Engine) -> None:
    long = EngineRequest(
        engine.encode_text("import json " * 6),
        SamplingParams(max_tokens=40, seed=5),
        processor=NoEos(engine.eos_ids),
    )
    late = EngineRequest(engine.encode_text("Ann has 3 pens."), SamplingParams(max_tokens=12, seed=42), n=2)
    long_alone, late_alone = engine.generate([long]), engine.generate([late])

    batch = RunningBatch(engine)
    (long_admitted,) = batch.add([long])
    for _ in range(7):
        assert batch.step() == []
    (late_admitted,) = batch.add([late])  # the long row has 7 tokens; the late rows are padded to its width
    assert len(batch.rows) == 3
    done = _run(batch)
    assert done == [late_admitted, long_admitted]  # the late one, 12 tokens after joining, left first

    for alone, joined in ((long_alone[0], long_admitted.result()), (late_alone[0], late_admitted.result())):
        for a, b in zip(alone.samples, joined.samples, strict=True):
            assert a.token_ids == b.token_ids and a.text == b.text and a.finish_reason == b.finish_reason
            assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)
    samples = late_admitted.result().samples
    assert samples[0].token_ids != samples[1].token_ids  # sample i is seeded with seed + i
    assert len(set(long_admitted.result().samples[0].token_ids or [])) > 5  # not one token repeated


def test_rows_that_leave_take_their_padding_with_them(engine: Engine) -> None:
    long_prompt = engine.encode_text("She gets 4 more. " * 8)
    short_prompt = engine.encode_text("Ann")
    no_eos = NoEos(engine.eos_ids)
    params = SamplingParams(temperature=0.0, max_tokens=2)
    batch = RunningBatch(engine)
    batch.add(
        [
            EngineRequest(long_prompt, params, processor=no_eos),
            EngineRequest(short_prompt, SamplingParams(temperature=0.0, max_tokens=9), processor=no_eos),
        ]
    )
    assert batch.width == len(long_prompt)
    batch.step()
    assert batch.width == len(long_prompt) + 1
    (gone,) = batch.step()  # the long-prompt row's second token is its last
    assert len(gone.result().samples[0].token_ids or []) == 2
    assert batch.width == len(short_prompt) + 2  # only the short row's own columns are left
    (short,) = _run(batch)
    assert batch.rows == [] and batch.steps == 9 and batch.row_steps == 2 + 9
    alone = engine.generate([short.request])[0].samples[0]
    assert short.result().samples[0].token_ids == alone.token_ids


def test_a_cancelled_request_leaves_and_the_others_continue(engine: Engine) -> None:
    no_eos = NoEos(engine.eos_ids)
    keep = EngineRequest(engine.encode_text("x = 1"), SamplingParams(max_tokens=20, seed=3), processor=no_eos)
    cancel = EngineRequest(
        engine.encode_text("import os"), SamplingParams(max_tokens=20), n=2, processor=no_eos
    )
    batch = RunningBatch(engine)
    kept, cancelled = batch.add([keep, cancel])
    for _ in range(3):
        batch.step()
    cancel.cancelled = True
    assert batch.step() == [cancelled]  # the step that sees the flag still reports its token
    assert len(batch.rows) == 1
    assert [s.finish_reason for s in cancelled.result().samples] == ["abort", "abort"]
    assert [len(s.token_ids or []) for s in cancelled.result().samples] == [4, 4]
    assert _run(batch) == [kept]
    sample = kept.result().samples[0]
    assert sample.finish_reason == "length" and len(sample.token_ids or []) == 20
    assert sample.token_ids == engine.generate([keep])[0].samples[0].token_ids


def test_a_sliding_window_cache_is_not_joined(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        sliding_window=4,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    engine = Engine(MistralForCausalLM(config), tokenizer)
    request = EngineRequest(
        engine.encode_text("Ann has 3 pens."), SamplingParams(temperature=0.0, max_tokens=6)
    )
    batch = RunningBatch(engine)
    assert batch.can_join
    batch.add([request])
    assert not batch.can_join  # the window keeps the last columns only: nothing to pad and concatenate
    (done,) = _run(batch)
    assert batch.can_join  # empty again
    assert done.result().samples[0].token_ids == engine.generate([request])[0].samples[0].token_ids
