"""Windowed maximum mean discrepancy (MMD) detector: a two-sample test of each account's recent query
embeddings against honest reference traffic.

For every window of an account's `WINDOW` most recent queries (advanced `STEP` queries at a time;
accounts with fewer queries are tested once on all of them, from `MIN_WINDOW` on), the unbiased MMD^2
(Gretton et al., 2012) between the window and a fixed sample of honest reference queries is computed
with a Gaussian kernel whose bandwidth is the median pairwise distance of the reference sample. The
account is flagged when a window's MMD^2 exceeds a threshold set on honest reference accounts only:
the smallest value that at most `target_fpr` of them ever exceed over their whole streams.
"""

from __future__ import annotations

import numpy as np

from . import threshold_at

WINDOW, STEP, MIN_WINDOW = 50, 50, 20
REFERENCE = 500


def _kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.exp(-gamma * np.maximum(sq, 0))


class WindowMMD:
    """MMD^2 of account windows against an honest sample, with a threshold set on honest accounts."""

    def __init__(self, reference: np.ndarray, *, seed: int = 0):
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(reference), min(REFERENCE, len(reference)), replace=False)
        self.reference = reference[pick].astype(np.float64)
        sq = ((self.reference[:, None, :] - self.reference[None, :, :]) ** 2).sum(-1)
        median = float(np.median(sq[np.triu_indices(len(self.reference), 1)]))
        self.gamma = 1.0 / max(median, 1e-9)
        k = _kernel(self.reference, self.reference, self.gamma)
        m = len(self.reference)
        self.ref_term = (k.sum() - np.trace(k)) / (m * (m - 1))
        self.threshold = np.inf

    def mmd2(self, window: np.ndarray) -> float:
        """Unbiased MMD^2 between a window of queries and the reference sample."""
        x = window.astype(np.float64)
        n = len(x)
        kxx = _kernel(x, x, self.gamma)
        within = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        across = _kernel(x, self.reference, self.gamma).mean()
        return float(within + self.ref_term - 2 * across)

    def trace(self, stream: np.ndarray) -> list[tuple[int, float]]:
        """(queries sent so far, MMD^2 of the window ending there) at each test point."""
        if len(stream) < MIN_WINDOW:
            return []
        ends = list(range(WINDOW, len(stream) + 1, STEP)) if len(stream) >= WINDOW else [len(stream)]
        return [(end, self.mmd2(stream[max(0, end - WINDOW) : end])) for end in ends]

    def fit_threshold(self, honest: dict[str, np.ndarray], target_fpr: float) -> None:
        highest = [max((v for _, v in self.trace(s)), default=-np.inf) for s in honest.values()]
        self.threshold = threshold_at(highest, target_fpr, low=False)

    def first_flag(self, stream: np.ndarray) -> int | None:
        for queries, value in self.trace(stream):
            if value > self.threshold:
                return queries
        return None
