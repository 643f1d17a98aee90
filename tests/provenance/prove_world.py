"""Helpers for the prove tests: the master key, keys, exact-calibration tools and a marked suspect
(fixtures: conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from distillab.provenance.config import WatermarkConfig
from distillab.provenance.keys import derive
from distillab.provenance.watermark import Watermark

MASTER = b"test-master-key-0123456789abcdef"


def mark(
    config: WatermarkConfig | None = None, account: str | None = None, master: bytes = MASTER
) -> Watermark:
    return Watermark(config or WatermarkConfig(), derive(master, account), account=account)


def random_keys(n: int, config: WatermarkConfig | None = None) -> list[Watermark]:
    """`n` unrelated keys (none of them ever marked anything)."""
    return [
        Watermark(config or WatermarkConfig(), derive(b"unrelated-key-%06d-xxxxxxxx" % i)) for i in range(n)
    ]


def randomized_p(green: int, scored: int, gamma: float, u: float) -> float:
    """The randomized binomial p-value P(X > g) + u P(X = g): exactly Uniform(0, 1) under the null."""
    from scipy.stats import binom

    return float(binom.sf(green, scored, gamma) + u * binom.pmf(green, scored, gamma))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


class MarkedModel(torch.nn.Module):
    """A suspect that learned the watermark perfectly: the teacher's logits plus the bias at every
    position."""

    def __init__(self, inner: torch.nn.Module, marks: list[Watermark]):
        super().__init__()
        self.inner, self.marks = inner, marks

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.inner.get_output_embeddings()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, use_cache: bool = False) -> Any:
        logits = self.inner(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        for b in range(logits.shape[0]):
            for i in range(logits.shape[1]):
                for m in self.marks:
                    logits[b, i] = m.apply(logits[b, i], input_ids[b, : i + 1].tolist())
        return SimpleNamespace(logits=logits)


def reading_files(folder: Path, teacher: Any, texts: list[list[int]]) -> tuple[Path, Path]:
    """(a JSONL of the texts decoded, as --texts; the master key file, as --key-file) in `folder`."""
    reading = folder / "read.jsonl"
    reading.write_text("".join(json.dumps({"completion": teacher.tokenizer.decode(t)}) + "\n" for t in texts))
    key = folder / "wm.key"
    key.write_bytes(MASTER)
    return reading, key
