"""Fixtures for the prove tests: a tiny teacher with real uncertainty and its unmarked text
(helpers: prove_world).

The teacher is a random 2-layer model with an untied output layer scaled so that its next-token
distributions have a few nats of entropy: a watermark needs choices to bias (a near-deterministic
teacher leaves no room), and trained text models have that much entropy too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from distillab.models.generate import Engine
from distillab.toy.models import ModelSize, build_model


@pytest.fixture(scope="session")
def teacher_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prove_teacher")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = build_model(tokenizer, ModelSize(layers=2, dim=64, heads=4, max_positions=256), seed=0)
    model.config.tie_word_embeddings = False
    head = 0.5 * torch.randn(model.lm_head.weight.shape, generator=torch.Generator().manual_seed(7))
    # Pieces of a UTF-8 character are never written, so served text decodes and re-encodes cleanly.
    head[[i for i in range(len(tokenizer)) if "\ufffd" in tokenizer.decode([i])]] = -30.0
    model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def teacher(teacher_dir: Path) -> Engine:
    return Engine.load(teacher_dir, device="cpu")


@pytest.fixture(scope="session")
def plain_texts(teacher: Engine) -> list[list[int]]:
    """Token ids the teacher wrote without any watermark (40 samples of 48 tokens)."""
    from distillab.models.generate import EngineRequest
    from distillab.teacher.base import SamplingParams

    requests = [
        EngineRequest(teacher.encode_text(f"Ann has {i} pens. "), SamplingParams(max_tokens=48, seed=i))
        for i in range(40)
    ]
    return [s.token_ids or [] for g in teacher.generate(requests) for s in g.samples]
