"""LocalTeacher: the Teacher protocol in-process, checked against the model's own forward pass."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from distillab.errors import ModelError
from distillab.teacher.base import SamplingParams, Teacher
from distillab.teacher.local import LocalTeacher

CHAT = [{"role": "user", "content": "Ann has 3 pens. She gets 4 more."}]


@pytest.fixture(scope="module")
def teacher(tiny_model_dir: Path) -> LocalTeacher:
    return LocalTeacher.from_pretrained(tiny_model_dir, device="cpu", name="tiny-teacher")


def test_satisfies_protocol_and_probes_logits(teacher: LocalTeacher) -> None:
    as_protocol: Teacher = teacher
    caps = asyncio.run(as_protocol.probe())
    assert caps.mode == "logits" and caps.token_ids and caps.top_k == 20
    assert teacher.name == "tiny-teacher" and teacher.endpoint.endswith(teacher.engine.name_or_path)


def test_generate_returns_ids_pieces_logprobs_topk(teacher: LocalTeacher) -> None:
    params = SamplingParams(temperature=0.8, max_tokens=10, seed=5, top_logprobs=4)
    gen = asyncio.run(teacher.generate(CHAT, params, n=2))
    assert len(gen.samples) == 2
    assert gen.completion_tokens == sum(len(s.token_ids or []) for s in gen.samples)
    prompt = teacher.engine.encode_chat(CHAT)
    assert gen.prompt_tokens == len(prompt)
    for sample in gen.samples:
        ids = sample.token_ids or []
        assert len(sample.tokens) == len(ids) == len(sample.token_logprobs or []) == len(sample.top_ids or [])
        logits = teacher.logits(torch.tensor([prompt + ids]))[0, len(prompt) - 1 : -1]
        expected = torch.log_softmax(logits, dim=-1)
        for pos, token in enumerate(ids):
            assert sample.token_logprobs[pos] == pytest.approx(float(expected[pos, token]), abs=1e-4)  # type: ignore[index]
            assert sample.top_ids[pos] == expected[pos].topk(4).indices.tolist()  # type: ignore[index]
            assert sample.top_tokens[pos] == [teacher.engine.vocab.piece(t) for t in sample.top_ids[pos]]  # type: ignore[index]


def test_raw_prompt_seed_and_no_logprobs(teacher: LocalTeacher) -> None:
    params = SamplingParams(max_tokens=8, seed=3, logprobs=False)

    async def twice() -> list[str]:
        gens = await asyncio.gather(*(teacher.generate("import json", params) for _ in range(2)))
        return [g.samples[0].text for g in gens]

    first, second = asyncio.run(twice())
    assert first == second
    sample = asyncio.run(teacher.generate("import json", params)).samples[0]
    assert sample.text == first and sample.token_logprobs is None and sample.top_logprobs is None
    assert sample.token_ids  # ids are known even without log-probabilities


def test_concurrent_generate_calls_are_batched(teacher: LocalTeacher) -> None:
    async def many() -> None:
        await asyncio.gather(*(teacher.generate(CHAT, SamplingParams(max_tokens=4)) for _ in range(6)))

    batch = teacher._batcher.running
    steps, rows = batch.steps, batch.row_steps
    asyncio.run(many())
    assert batch.row_steps - rows > batch.steps - steps  # more than one row per step


def test_logits_shape(teacher: LocalTeacher) -> None:
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert teacher.logits(ids).shape == (2, 3, teacher.engine.vocab_size)


def test_missing_model_names_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=str(tmp_path / "nope")):
        LocalTeacher.from_pretrained(tmp_path / "nope")
