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
