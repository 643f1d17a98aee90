"""Which accounts behave alike, and unlike honest traffic: behavioural evidence for linking.

    reference = Profiles.of(reference_table, prior)            # honest accounts (once, with the calibration)
    log = Profiles.of(log_table, prior, scale=reference.scale)
    for first, second, reason in alike(log, reference):       # pairs of rows of the log table
        ...

Each account with at least `MIN_REQUESTS` requests gets a behaviour profile of five blocks:

- ask: what it asks, the mean sentence embedding of its prompts (MiniLM or lexical), unit length;
- style: its mix of request styles (parameters, system prompt, chat or completions: `Columns.style`);
- phrasing: its mix of prompt openings and endings (first and last two words);
- hours: its hour-of-day activity profile;
- habits: one-off prompts, reasoning requests, log-probabilities, answer length, requests per day, the
  mean and spread of the gaps between its requests and prompt length, standardised on the reference.

The mixes enter as square roots of shares (unit vectors whose squared distance is twice the Hellinger
distance squared).

Two accounts' distance is the mean over blocks of their squared distance in the block, each divided by
the median for pairs of honest reference accounts: about 1 for unrelated accounts, 0 for identical
behaviour. Two log accounts are linked as *behaving alike* when each is among the other's `KNN`
nearest log accounts and they are closer to each other than `CONTRAST` times either one's distance to
the closest honest reference account.
Honest users of one kind (chat users of one app, teams running one benchmark) are alike too, but the
honest reference has their like, so they stay apart; a campaign's accounts, driven by one script, are
closer to each other than to anyone honest. The links only nominate candidate groups; the group tests
(`grouptest.py`) decide whether a group is beyond honest traffic.

Without an honest reference there is nothing to be unlike, and the log's own accounts do not stand in
for it: tried with "closer than half the distance to the nearest 30% of the other accounts", honest
simulated logs formed groups of 20 to 100 alike honest accounts (a support company's bots, chat users
of one app), and those groups rank together against the rest. So behaviour links only with a reference.

Cost: one matrix product per block of `CHUNK` accounts against the log and the reference (O(accounts x
(accounts + reference)) distances; 2 000 x 3 000 accounts take a fraction of a second). Past some
tens of thousands of accounts an approximate nearest-neighbour index would take over (not yet).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .features import FEATURES, StatsTable, shrink

MIN_REQUESTS = 5
KNN = 10
CONTRAST = 0.5
"""A pair must be closer than this times either one's distance to the closest honest account: honest
users of one kind pair off by chance about as close as their closest reference account (0.8 to 1.0 of
it on hand-built honest traffic); campaigns' accounts sat 2 to 140 times closer (simulated and
hand-built)."""
CHUNK = 1024
BLOCKS = ("ask", "style", "phrasing", "hours", "habits")
WORDS = {
    "ask": "what they ask",
    "style": "parameters",
    "phrasing": "phrasing",
    "hours": "hours",
    "habits": "habits",
}
HABITS = ("single_shot", "reasoning", "distribution", "output", "volume", "gap", "gap_spread", "length")
MIN_SPREAD = 0.05
PAIRS = 4000
"""Random pairs of reference accounts whose distances set each block's scale."""


@dataclass
class Scale:
    """How each block is put on a common footing: habits' centre and spread, each block's median
    distance between honest accounts."""

    centre: np.ndarray
    spread: np.ndarray
    median: dict[str, float]


@dataclass
class Profiles:
    """Behaviour profiles of a table's accounts (those with enough requests)."""

    rows: np.ndarray
    """Their rows in the table."""
    blocks: dict[str, np.ndarray]
    """Per block, one unscaled vector per profile."""
    scale: Scale
    prior: dict[str, float]
    """The shrinkage prior of the scored features (the reference's)."""
    prompts: str
    """Which prompt embedder made the `ask` block."""
    _matrix: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, table: StatsTable, prior: dict[str, float], scale: Scale | None = None) -> Profiles:
        """Profiles of `table`'s accounts; `scale` from the honest reference (default: fitted on these,
        for the reference itself)."""
        behaviour = table.behaviour
        if behaviour is None:
            raise ValueError("the table keeps no behaviour (made without an embedder)")
        n = len(table)
        rows = np.flatnonzero(table.counts["n"][:n] >= MIN_REQUESTS)
        raw = table.raw()
        features = shrink(raw, prior)[rows]
        hours = np.zeros((len(rows), 24))
        for i, row in enumerate(rows.tolist()):
            for hour, count in table.hours[row].items():
                hours[i, hour % 24] += count
        scalars = {k: v[rows] for k, v in behaviour.scalars.items()}
        gap_n = np.maximum(scalars["gap_n"], 1)
        gap = scalars["gap_sum"] / gap_n
        habits = np.column_stack(
            [features[:, FEATURES.index(f)] for f in HABITS[:4]]
            + [
                raw["volume"][rows],
                gap,
                np.sqrt(np.maximum(scalars["gap_sq"] / gap_n - gap**2, 0)),
                scalars["length_sum"] / np.maximum(behaviour.asked[rows], 1),
            ]
        )
        blocks = {
            "ask": _unit(behaviour.ask[rows].astype(np.float64)),
            "style": _root_shares(behaviour.style[rows]),
            "phrasing": _root_shares(behaviour.phrasing[rows]),
            "hours": _root_shares(hours),
            "habits": habits,
        }
        return cls(rows, blocks, scale or _fit_scale(blocks), prior, behaviour.prompts.name)

    def __len__(self) -> int:
        return len(self.rows)

    def matrix(self) -> np.ndarray:
        """The scaled blocks side by side (float32): squared Euclidean distance between rows = the
        distance. Kept once made (a reference's profiles are compared at every checkpoint)."""
        if self._matrix is None:
            s = self.scale
            parts = []
            for name in BLOCKS:
                block = self.blocks[name]
                if name == "habits":
                    block = (block - s.centre) / s.spread / math.sqrt(block.shape[1])
                parts.append(block / math.sqrt(s.median[name] * len(BLOCKS)))
            self._matrix = np.concatenate(parts, axis=1).astype(np.float32)
        return self._matrix

    def block_distances(self, first: int, other: Profiles, second: int) -> dict[str, float]:
        """Each block's scaled distance between row `first` here and row `second` of `other`."""
        s = self.scale
        out = {}
        for name in BLOCKS:
            a, b = self.blocks[name][first], other.blocks[name][second]
            if name == "habits":
                d = float(np.sum(((a - b) / s.spread) ** 2)) / len(a)
            else:
                d = float(np.sum((a - b) ** 2))
            out[name] = d / s.median[name]
        return out


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _root_shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.sqrt(np.divide(counts, total, out=np.zeros_like(counts), where=total > 0))


def _fit_scale(blocks: dict[str, np.ndarray]) -> Scale:
    habits = blocks["habits"]
    centre = np.median(habits, axis=0) if len(habits) else np.zeros(len(HABITS))
    spread = np.maximum(habits.std(axis=0) if len(habits) else 0.0, MIN_SPREAD)
    n = len(habits)
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, max(n, 1), (2, PAIRS))
    keep = first != second
    first, second = first[keep], second[keep]
    median = {}
    for name in BLOCKS:
        block = blocks[name]
        if name == "habits":
            block = (block - centre) / spread / math.sqrt(block.shape[1])
        d = np.sum((block[first] - block[second]) ** 2, axis=1) if n > 1 else np.zeros(0)
        median[name] = max(float(np.median(d)) if len(d) else 1.0, 1e-3)
    return Scale(centre, spread, median)


def _squared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


@dataclass(frozen=True)
class Pair:
    """Two accounts that behave alike: rows of the log's table, their distance, each block's share of
    it, and the distance to the closest honest reference account (it is under CONTRAST times that)."""

    first: int
    second: int
    distance: float
    blocks: dict[str, float]
    bound: float


def alike(log: Profiles, reference: Profiles) -> Iterator[Pair]:
    """Each pair of the log's accounts that behave alike and unlike the honest reference."""
    n = len(log)
    if n < 2 or not len(reference):
        return
    if reference.prompts != log.prompts:
        raise ValueError(f"profiles from {log.prompts} and {reference.prompts} embeddings do not compare")
    x, ref = log.matrix(), reference.matrix()
    k = min(KNN, n - 1)
    radius = np.zeros(n)
    """Squared distance to the closest honest reference account."""
    firsts, seconds, squared = [], [], []
    for start in range(0, n, CHUNK):
        block = _squared(x[start : start + CHUNK], x)
        rows = np.arange(start, start + len(block))
        block[rows - start, rows] = np.inf
        near = np.argpartition(block, k - 1, axis=1)[:, :k]
        firsts.append(np.repeat(rows, k))
        seconds.append(near.reshape(-1))
        squared.append(np.take_along_axis(block, near, axis=1).reshape(-1))
        radius[start : start + len(block)] = _squared(x[start : start + CHUNK], ref).min(axis=1)
    first, second, distance = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(squared)
    key = first * n + second
    mutual = np.flatnonzero((first < second) & np.isin(second * n + first, key))
    for i in mutual[np.argsort(key[mutual])].tolist():
        a, b, d = int(first[i]), int(second[i]), float(distance[i])
        bound = float(min(radius[a], radius[b]))
        if d < CONTRAST * bound:
            yield Pair(int(log.rows[a]), int(log.rows[b]), d, log.block_distances(a, log, b), bound)


def describe(pairs: list[Pair], members: int) -> str:
    """Why a group's accounts were linked as behaving alike, in words (medians over its alike pairs)."""
    distance = float(np.median([p.distance for p in pairs]))
    parts = ", ".join(f"{WORDS[b]} {np.median([p.blocks[b] for p in pairs]):.2f}" for b in BLOCKS)
    times = float(np.median([p.bound / max(p.distance, 1e-9) for p in pairs]))
    return (
        f"{members} accounts behave alike ({len(pairs)} pairs; median distance {distance:.2f}, where "
        f"a typical honest pair's is 1: {parts}); the closest honest reference account is {times:.1f}x "
        "as far"
    )
