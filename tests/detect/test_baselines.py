"""The PRADA and windowed-MMD baselines: thresholds come from honest accounts only, and they react to
what their papers say they react to."""

from __future__ import annotations

import numpy as np

from distillab.detect.baselines import threshold_at
from distillab.detect.baselines.mmd import WindowMMD
from distillab.detect.baselines.prada import Prada, distances

DIM = 16


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def honest_streams(seed: int, accounts: int = 60) -> dict[str, np.ndarray]:
    """People: each around a few personal topics, queries scattered around them."""
    rng = np.random.default_rng(seed)
    topics = unit(rng.standard_normal((12, DIM)))
    streams = {}
    for a in range(accounts):
        mine = topics[rng.choice(12, 3, replace=False)]
        picks = mine[rng.integers(0, 3, rng.integers(40, 120))]
        streams[f"h{a}"] = unit(picks + 0.35 * rng.standard_normal(picks.shape))
    return streams


def test_threshold_flags_at_most_the_target_share_of_honest_scores() -> None:
    scores = list(np.linspace(0, 1, 1000))
    low, high = threshold_at(scores, 0.01, low=True), threshold_at(scores, 0.01, low=False)
    assert sum(s < low for s in scores) <= 10 and sum(s > high for s in scores) <= 10
    assert threshold_at(scores[:50], 0.001, low=True) == 0.0  # too few accounts for 0.1%: flag none


def test_prada_threshold_comes_from_honest_accounts() -> None:
    honest = honest_streams(0)
    prada = Prada.fit(honest, 0.05)
    flagged = sum(prada.first_flag(s) is not None for s in honest.values())
    assert flagged <= 0.05 * len(honest)
    assert Prada.fit(honest_streams(0), 0.05).delta == prada.delta  # deterministic, honest data only
    # A generator walking a fixed grid of prompt variants: distances collapse onto a few values (far
    # from normal), which is PRADA's signature of synthetic queries.
    rng = np.random.default_rng(1)
    base = unit(rng.standard_normal((8, DIM)))
    grid = unit(np.concatenate([base + 0.02 * k * rng.standard_normal((8, DIM)) for k in range(1, 30)]))
    assert prada.first_flag(grid) is not None
    assert len(distances(grid)) == len(grid) - 1


def test_mmd_threshold_comes_from_honest_accounts() -> None:
    honest = honest_streams(2)
    mmd = WindowMMD(np.concatenate(list(honest.values())))
    mmd.fit_threshold(honest, 0.05)
    assert sum(mmd.first_flag(s) is not None for s in honest.values()) <= 0.05 * len(honest)
    rng = np.random.default_rng(3)
    elsewhere = unit(
        rng.standard_normal((200, DIM)) + 4 * unit(rng.standard_normal(DIM))
    )  # a topic nobody asks about
    assert mmd.first_flag(elsewhere) == 50  # the first full window
