"""Fixtures of the model-layer tests: the tiny model written as a GGUF file."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_file import write_gguf
from transformers import AutoModelForCausalLM, AutoTokenizer


@pytest.fixture(scope="session")
def gguf_path(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_model_dir` (the conftest's random 2-layer Llama) as a float32 GGUF file."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return write_gguf(model, tokenizer, tmp_path_factory.mktemp("gguf") / "tiny.gguf")
