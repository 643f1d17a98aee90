"""A tiny distillation world for training tests, built in-process and harvested through the real code path.

- ``teacher``: a tiny random model with the shared tokenizer and a large untied output layer, so it has
  confident preferences (entropy ~0.7 nats) that depend on the context, like a trained model;
- ``student``: a smaller random model with the same tokenizer;
- harvests of the teacher written by ``run_harvest``: with top-k ids (a local teacher), text only (the
  teacher behind a wrapper that answers like an API without log-probs), and top-k as token strings
  only (like an API that returns no ids).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import torch
from train_world import World, chat, harvest
from transformers import AutoTokenizer

from distillab.teacher.base import SamplingParams
from distillab.teacher.local import LocalTeacher
from distillab.toy.models import ModelSize, build_model

N_PROMPTS = 40
HELD_OUT = 12


@pytest.fixture(scope="session")
def world(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("train_world")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    teacher = build_model(tokenizer, ModelSize(layers=2, dim=64, heads=4, max_positions=256), seed=0)
    # An untied, large random output layer: confident, context-dependent next-token preferences. (With
    # tied embeddings a random model mostly predicts "repeat the last token", and so would the student.)
    teacher.config.tie_word_embeddings = False
    head = torch.randn(teacher.lm_head.weight.shape, generator=torch.Generator().manual_seed(7))
    # Tokens that are part of a UTF-8 character get logit 0, far below the top ones (~+20): the teacher
    # writes valid text, as trained models do, rather than random bytes.
    partial = [i for i in range(len(tokenizer)) if "\ufffd" in tokenizer.decode([i])]
    head[partial] = 0.0
    teacher.lm_head.weight = torch.nn.Parameter(head)
    teacher.save_pretrained(root / "teacher")
    tokenizer.save_pretrained(root / "teacher")
    student = build_model(tokenizer, ModelSize(layers=1, dim=32, heads=2, max_positions=256), seed=1)
    student.save_pretrained(root / "student")
    tokenizer.save_pretrained(root / "student")
    prompts = root / "prompts.jsonl"
    rows = [{"id": f"p{i}", "messages": chat(i)} for i in range(N_PROMPTS)]
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    local = LocalTeacher.from_pretrained(root / "teacher", device="cpu")
    params = SamplingParams(temperature=1.0, max_tokens=14, seed=123)
    indices = range(N_PROMPTS, N_PROMPTS + HELD_OUT)

    async def sample() -> list[list[int]]:
        generations = await asyncio.gather(*(local.generate(chat(i), params) for i in indices))
        await local.aclose()
        return [g.samples[0].token_ids or [] for g in generations]

    held_out = [
        (local.engine.encode_chat(chat(i)) + ids, len(local.engine.encode_chat(chat(i))))
        for i, ids in zip(indices, asyncio.run(sample()))
    ]
    return World(
        root,
        root / "teacher",
        root / "student",
        prompts,
        harvest(root / "teacher", prompts, root / "h-ids"),
        harvest(root / "teacher", prompts, root / "h-text", mode="text"),
        held_out,
    )
