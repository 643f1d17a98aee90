"""Fixtures of the model-layer tests: the tiny model written as a GGUF file, a deeper tiny teacher."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from gguf_file import write_gguf
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.cli.main import main
from distillab.toy.models import ModelSize, build_model


@pytest.fixture(scope="session")
def gguf_path(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_model_dir` (the conftest's random 2-layer Llama) as a float32 GGUF file."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return write_gguf(model, tokenizer, tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def four_layer_teacher(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 4-layer, 64-dim, 4-head Llama with the tiny-world tokenizer: room to cut or shrink."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = build_model(tokenizer, ModelSize(layers=4, dim=64, heads=4, max_positions=256), seed=3)
    out = tmp_path_factory.mktemp("teacher4")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture
def student_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    """`distillab student ARGS...` in-process: (exit code, stdout + stderr)."""

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["distillab", "student", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run
