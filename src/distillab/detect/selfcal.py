"""Self-calibration: the log as its own honest reference, robust to a campaign that is a sizeable share
of its accounts.

Without a clean reference period each account is judged against the other accounts of the same log.
Two things go wrong when a campaign runs 20-30% of the accounts: its accounts vouch for each other
(each is dominated by others of the campaign, so none looks unusual), and they fill the top of the
reference distances (so each ranks among its own kind, never beyond all of them). Both are answered by
estimating which accounts are honest before calibrating on them:

1. **Screen.** Each account is compared with the others minus itself, the accounts linked to it and,
   when at least `DENSE` accounts lie within `EPS` of it on every feature (in units of the feature's
   spread), those too: a dense behavioural cluster cannot vouch for its own members. Its rank among
   the others' distances, that cluster left out again, is a screening p-value (ranks only).
2. **Dense unusual clusters leave the estimate.** Accounts with a screening p-value <= `SCREEN` that
   are connected within `EPS` to at least `DENSE` such accounts (a connected component of the
   neighbourhood graph) are candidate campaigns: they neither vouch for others nor calibrate. Honest
   extremes stay in: a lone benchmark runner or labelling company is no cluster.
3. **Score against the rest, iterate.** Every account is scored against the honest estimate as
   against a clean reference; accounts flagged (p <= the target, or the smallest rate the estimate
   certifies when that is larger, and a Benjamini-Hochberg q <= fdr) leave it too, and scoring
   repeats until no new account is flagged.

What this assumes, and so what it cannot do: honest behaviour at the edge of the log is spread out
(individual teams), while a campaign is many alike accounts at the edge. Many honest accounts of one
company doing the same unusual thing look like a campaign here; a clean `--reference` tells them
apart. Self-calibrated p-values come from ranks alone (no fitted tail): the only honest examples of
the most extreme behaviour are the log's own accounts, and a tail fitted on the less extreme ones
would turn a log's one benchmark team into a flag. So they are never below F/(N+1), N the accounts
kept as honest (`Calibration.smallest_p`); `distillab detect` says at its start what that allows.

    calibration = self_calibrate(table, links, target_fpr=0.01, fdr=0.05)
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .calibrate import units_of
from .features import FEATURES, StatsTable, prior_of, shrink
from .linking import Links
from .scoring import FAMILIES, MIN_SCALE, Calibration, benjamini_hochberg

EPS = 1.0
"""Accounts within this many spreads of each other on every feature are behavioural neighbours."""
DENSE = 5
"""An account with at least this many neighbours sits in a dense behavioural cluster."""
SCREEN = 0.2
"""Screening p-value below which an account in a dense cluster leaves the honest estimate."""
SELF_K = 0.01
"""In the screen, an account is ordinary when this share of the other accounts dominate it (so that a
few accounts of one campaign cannot vouch for each other there)."""
ROUNDS = 5
CHUNK = 512


def neighbours(features: np.ndarray, scale: np.ndarray) -> list[np.ndarray]:
    """Each row's behavioural neighbours (other rows within EPS spreads on every feature)."""
    scaled = features / scale
    out = []
    for start in range(0, len(scaled), CHUNK):
        block = scaled[start : start + CHUNK]
        close = np.abs(block[:, None, :] - scaled[None, :, :]).max(axis=2) <= EPS
        for i, row in enumerate(close):
            row[start + i] = False
            out.append(np.flatnonzero(row))
    return out


def screen(features: np.ndarray, prior: dict[str, float], linked: list[list[int]], k: int) -> np.ndarray:
    """Rows that are candidate campaigns: unusual (screening p <= SCREEN) and in a dense cluster of
    unusual rows."""
    n = len(features)
    scale = np.maximum(features.std(axis=0), [MIN_SCALE[f] for f in FEATURES])
    near = neighbours(features, scale)
    dense = np.array([len(nb) >= DENSE for nb in near])
    cluster = [sorted({*linked[i], *(near[i] if dense[i] else ())}) for i in range(n)]
    calibration = Calibration(features, prior, k=k, exclude=cluster, extrapolate=False)
    distance = calibration.loo_unsorted
    ordered = np.sort(distance, axis=0)
    p = np.ones(n)
    for i in np.flatnonzero(distance.max(axis=1) > 0):
        left_out = distance[cluster[i]]
        for f in range(len(FAMILIES)):
            at_least = n - np.searchsorted(ordered[:, f], distance[i, f] - 1e-12)
            at_least -= int((left_out[:, f] >= distance[i, f] - 1e-12).sum())
            p[i] = min(p[i], len(FAMILIES) * (1 + at_least) / (1 + n - len(cluster[i])))
    unusual = p <= SCREEN
    rows, cols = [], []
    for i in np.flatnonzero(unusual):
        mates = near[i][unusual[near[i]]]
        rows += [i] * len(mates)
        cols += mates.tolist()
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    size = np.bincount(component[unusual], minlength=n)
    return unusual & (size[component] >= DENSE)


def self_calibrate(
    table: StatsTable, links: Links, *, target_fpr: float, fdr: float
) -> tuple[Calibration, np.ndarray]:
    """A calibration on `table`'s own accounts, with candidate campaigns and flagged accounts left out
    of the honest estimate; and the candidates (a mask over the accounts)."""
    raw = table.raw()
    prior = prior_of(raw)
    features = shrink(raw, prior)
    n = len(features)
    units, _ = units_of(table, links, prior)
    linked = [[j for j in units.exclude[i] if j < n] for i in range(n)]
    k = max(1, math.ceil(SELF_K * n))
    candidates = screen(features, prior, linked, k)
    honest = ~candidates
    if not honest.any():  # nothing ordinary to calibrate on: everyone stays
        honest[:] = True
    # With the dense clusters out, the estimate is used as a clean reference is (k = 1).
    calibration = Calibration(
        features, prior, exclude=linked, names=table.names, honest=honest, extrapolate=False
    )
    for _ in range(ROUNDS):
        # Below the smallest certifiable rate nothing is flagged; at it is what the run reports.
        level = max(target_fpr, calibration.smallest_p())
        p = calibration.score(features, linked).p_value
        q = np.array(benjamini_hochberg(p.tolist()))
        flagged = (p <= level) & (q <= fdr) & calibration.honest
        if not flagged.any() or flagged.sum() == calibration.honest.sum():
            break
        honest = calibration.honest & ~flagged
        calibration = Calibration(
            features, prior, exclude=linked, names=table.names, honest=honest, extrapolate=False
        )
    return calibration, candidates
