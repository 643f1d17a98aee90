"""PRADA (Juuti, Szyller, Marchal, Asokan: "PRADA: Protecting against DNN Model Stealing Attacks",
EuroS&P 2019), for prompts.

Per account, PRADA keeps a growing set G of earlier queries and the list D of each new query's minimum
L2 distance to G. A query joins G when its distance exceeds max(0, mean(D) - std(D)). Benign query
streams give roughly normally distributed distances; synthetic, systematically generated ones do
not, so once D holds `MIN_DISTANCES` values the Shapiro-Wilk statistic W of D is computed, and W below
a threshold delta flags the account. The paper keeps one G per predicted class; a language model's
answers have no classes, so here there is one G per account. Queries are the prompts' lexical
embeddings (unit vectors, `text.Embedder`).

delta is set on honest reference accounts only: the largest value at which at most `target_fpr` of
them are ever flagged over their whole streams.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import shapiro

from . import threshold_at

MIN_DISTANCES = 20
EVERY = 10
"""W is recomputed every this many queries (the paper tests after each one; this is 10x cheaper)."""


def distances(stream: np.ndarray) -> np.ndarray:
    """PRADA's minimum-distance sequence D for one account's query embeddings (rows, in order)."""
    if len(stream) < 2:
        return np.zeros(0)
    growing = np.empty((len(stream), stream.shape[1]), stream.dtype)
    growing[0] = stream[0]
    size, out = 1, []
    total = total_sq = 0.0
    for x in stream[1:]:
        d = float(np.sqrt(np.maximum(((growing[:size] - x) ** 2).sum(axis=1), 0).min()))
        out.append(d)
        total, total_sq = total + d, total_sq + d * d
        mean = total / len(out)
        std = np.sqrt(max(total_sq / len(out) - mean * mean, 0.0))
        if d > max(0.0, mean - std):
            growing[size] = x
            size += 1
    return np.array(out)


def w_trace(stream: np.ndarray) -> list[tuple[int, float]]:
    """(queries sent so far, W) at each test point of the account's stream."""
    d = distances(stream)
    trace = []
    for m in range(MIN_DISTANCES, len(d) + 1, EVERY):
        sample = d[:m]
        w = 1.0 if np.ptp(sample) == 0 else float(shapiro(sample).statistic)
        trace.append((m + 1, w))
    return trace


class Prada:
    """PRADA with its threshold delta set on honest accounts."""

    def __init__(self, delta: float):
        self.delta = delta

    @classmethod
    def fit(cls, honest: dict[str, np.ndarray], target_fpr: float) -> Prada:
        lowest = [min((w for _, w in w_trace(s)), default=1.0) for s in honest.values()]
        return cls(threshold_at(lowest, target_fpr, low=True))

    def first_flag(self, stream: np.ndarray) -> int | None:
        """Queries the account had sent when W first fell below delta (None: never)."""
        for queries, w in w_trace(stream):
            if w < self.delta:
                return queries
        return None
