"""Fixtures for harvest tests: prompt files and fake OpenAI-compatible servers on loopback."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, FakeSettings, serve


@pytest.fixture
def write_prompts(tmp_path: Path) -> Callable[..., Path]:
    """write_prompts(count, chat=True, name="prompts.jsonl") -> path of a JSONL prompt file."""

    def write(count: int, chat: bool = True, name: str = "prompts.jsonl") -> Path:
        path = tmp_path / name
        with path.open("w") as f:
            for i in range(count):
                row = (
                    {"id": f"q{i}", "messages": [{"role": "user", "content": f"question number {i}"}]}
                    if chat
                    else {"prompt": f"prompt number {i}"}
                )
                f.write(json.dumps(row) + "\n")
        return path

    return write


@pytest.fixture
def fake_server() -> Iterator[Callable[..., tuple[FakeOpenAI, str]]]:
    """fake_server(**settings) -> (server, base_url); every server stops when the test ends."""
    with contextlib.ExitStack() as stack:

        def start(**settings: object) -> tuple[FakeOpenAI, str]:
            fake = FakeOpenAI(FakeSettings(**settings))  # type: ignore[arg-type]
            return fake, stack.enter_context(serve(fake.app))

        yield start


QUESTION_VERBS = ("sort", "parse", "join", "split", "read", "write", "format", "copy", "merge", "count")
QUESTION_NOUNS = ("list", "string", "file", "table", "number", "word", "path", "line", "record", "value")


@pytest.fixture(scope="session")
def question_teacher(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat model trained for a few seconds to write short questions and end its turn: in a user
    turn (what Magpie asks of it) and as an answer (what self-instruct asks). Saved like any model."""
    import random

    import torch
    from transformers import AutoTokenizer

    from distillab.toy.models import ModelSize, build_model

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    questions = [f"How do I {v} a {n}?" for v in QUESTION_VERBS for n in QUESTION_NOUNS]
    questions += [f"What does {v} do to a {n}?" for v in QUESTION_VERBS for n in QUESTION_NOUNS]
    turns = [
        tokenizer(f"{head}\n{q}<|end|>")["input_ids"]
        for q in questions
        for head in ("<|user|>", "<|assistant|>")
    ]
    # Long enough a context for a self-instruct request (the tiny tokenizer spends a token per 1-2 chars).
    model = build_model(tokenizer, ModelSize(layers=2, dim=64, heads=4, max_positions=1024), seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    rng = random.Random(0)
    for _ in range(100):
        batch = rng.sample(turns, 16)
        width = max(map(len, batch))
        ids = torch.tensor([t + [tokenizer.pad_token_id] * (width - len(t)) for t in batch])
        labels = torch.tensor([t + [-100] * (width - len(t)) for t in batch])
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out = tmp_path_factory.mktemp("question_teacher")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
