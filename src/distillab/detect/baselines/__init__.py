"""Published per-account detectors, implemented from their papers, to compare `distillab detect` with.

- `prada.Prada`: PRADA (Juuti et al., 2019), the Shapiro-Wilk test of each account's stream of
  minimum distances between a new query and the account's earlier ones;
- `mmd.WindowMMD`: a windowed maximum-mean-discrepancy two-sample test of an account's recent query
  embeddings against honest reference traffic.

Both read the same lexical prompt embeddings as the main detector (`account_streams`), set their
threshold on honest reference accounts only (at a target false-positive rate over accounts), and
report the number of queries an account had sent when it was first flagged. They are run by
benchmarks/detect_quality.py, not by `distillab detect`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..logs import read_batches
from ..text import Embedder

MAX_QUERIES = 1000
"""Queries kept per account (the first ones): both baselines cost more than linear time per account."""


def account_streams(source: str | Path, embedder: Embedder) -> dict[str, np.ndarray]:
    """Each account's prompt embeddings (rows), in log order; at most MAX_QUERIES per account."""
    parts: dict[str, list[np.ndarray]] = {}
    counts: dict[str, int] = {}
    for columns in read_batches(source):
        vectors = embedder.embed_texts(columns.text)[0]
        names = np.array(columns.account.to_pylist(), dtype=object)
        order = np.argsort(names, kind="stable")
        sorted_names = names[order]
        starts = np.flatnonzero(np.r_[True, sorted_names[1:] != sorted_names[:-1]])
        for begin, end in zip(starts, np.r_[starts[1:], len(order)]):
            name = sorted_names[begin]
            room = MAX_QUERIES - counts.get(name, 0)
            if room > 0:
                rows = vectors[order[begin:end][:room]]
                parts.setdefault(name, []).append(rows)
                counts[name] = counts.get(name, 0) + len(rows)
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def threshold_at(scores: list[float], target_fpr: float, *, low: bool) -> float:
    """The cut that flags at most `target_fpr` of the honest accounts' `scores` (flag below the cut when
    `low`, above it otherwise)."""
    values = np.sort(np.asarray(scores, np.float64))
    if not len(values):
        return -np.inf if low else np.inf
    allowed = int(np.floor(target_fpr * len(values)))
    if low:  # flag s < cut: at most `allowed` honest scores may lie below
        return float(values[allowed]) if allowed < len(values) else np.inf
    return float(values[len(values) - 1 - allowed]) if allowed < len(values) else -np.inf
