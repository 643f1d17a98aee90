"""Calibrated scores: is an account (or a linked group) beyond everything honest traffic does?

Honest heavy users are extreme in some direction: benchmark teams send thousands of templated one-off
prompts with log-probabilities, labelling companies thousands of new items, people long conversations
across many topics. What they do not do is all of it at once. So the score is a *domination distance*:
how far an account must be pulled back, feature by feature, before some honest reference unit is at
least as high on every feature (features are oriented so that larger is more like distillation):

    D(x) = min over reference units r of  sum_j max(0, x_j - r_j) / s_j      (s_j: the feature's spread)

D = 0 when some honest account does at least as much of everything; it is large only for a
combination no honest account shows (one-off prompts AND broad topic coverage AND long answers, say).

Calibration uses honest traffic only. Each reference unit (honest accounts and the pooled groups that
linking finds among them) gets its leave-one-out distance to the others; an account's p-value is its
conformal rank among them, p = (1 + #{D_ref >= D}) / (1 + N), valid for an honest account exchangeable
with the reference (P(p <= a) <= a). Beyond the largest reference distance the p-value continues with an
exponential tail fitted to the top reference distances, so that Benjamini-Hochberg across many accounts
has p-values small enough to work with; the calibration tests check on honest traffic that this holds.

When the log is its own reference (no clean period to calibrate on), an account is compared with the
others minus itself and the accounts linked to it, and a unit counts as ordinary only when `k` others
dominate it (k grows with the number of accounts), so that a few accounts of one campaign cannot vouch
for each other.

    calibration = Calibration.fit(reference_features, prior)
    scored = calibration.score(features)          # D, p-value, and the nearest honest unit per row
    calibration.reasons(features[i], scored, i)   # why, in words
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .features import FEATURES

if TYPE_CHECKING:
    from .alike import Profiles
    from .grouptest import GroupNull

WORDS = {
    "single_shot": ("{v:.0%} of requests are one-off prompts, not conversations", "{v:.0%}"),
    "coverage": ("prompts spread over {e:.0f} topic clusters", "{e:.0f}"),
    "novelty": ("{v:.0%} of prompts are new to the account (few repeats)", "{v:.0%}"),
    "output": ("answers average {b:.0f} tokens", "{b:.0f}"),
    "reasoning": ("{v:.0%} of requests ask for step-by-step reasoning", "{v:.0%}"),
    "distribution": ("{v:.0%} of requests ask for log-probabilities or several samples", "{v:.0%}"),
}
MIN_SCALE = {
    "single_shot": 0.05,
    "coverage": 0.1,
    "novelty": 0.05,
    "output": 0.25,
    "reasoning": 0.05,
    "distribution": 0.05,
}
"""Floors under each feature's spread, so that where honest accounts agree exactly (none asks for
reasoning, say) a sliver of difference is not decisive: a twentieth of a share, a tenth of a nat of
topic breadth, a quarter of a bit of answer length."""
TAIL_FRACTION = 0.01
MIN_TAIL = 20
CHUNK = 256


@dataclass(frozen=True)
class Scored:
    distance: np.ndarray
    p_value: np.ndarray
    nearest: np.ndarray
    """Index of the reference unit that comes closest to dominating each row."""


def _fmt(template: str, v: float) -> str:
    return template.format(v=v, e=math.exp(v), b=2**v - 1)


class Calibration:
    """Honest reference units' features, their leave-one-out distances, and the fitted tail."""

    def __init__(
        self,
        features: np.ndarray,
        prior: dict[str, float],
        *,
        k: int = 1,
        exclude: Sequence[Sequence[int]] | None = None,
        names: Sequence[str] | None = None,
    ):
        if len(features) == 0:
            raise ValueError("an empty reference")
        self.features = np.asarray(features, np.float64)
        self.groups = np.zeros((0, self.features.shape[1]))
        """Pooled honest reference groups: extra dominators when a linked group is scored."""
        self.prior = prior
        self.behaviour: Profiles | None = None
        """The honest reference accounts' behaviour profiles (behavioural linking compares with them)."""
        self.group_null: GroupNull | None = None
        """How honest groups formed by linking fare in the group rank test (`grouptest.calibrate_groups`)."""
        self.k = max(1, k)
        self.names = list(names) if names is not None else [f"reference-{i}" for i in range(len(features))]
        self.scale = np.maximum(self.features.std(axis=0), [MIN_SCALE[f] for f in FEATURES])
        self.medians = np.median(self.features, axis=0)
        exclude = exclude or [[i] for i in range(len(features))]
        self.loo_unsorted = self._distance(self.features, exclude)[0]
        self.loo = np.sort(self.loo_unsorted)
        self.n = len(self.loo)
        tail = max(MIN_TAIL, int(TAIL_FRACTION * self.n))
        top = self.loo[-tail:] if self.n >= MIN_TAIL else self.loo
        self.tail_from = float(top[0])
        self.tail_n = len(top)
        excess = top - self.tail_from
        self.tail_scale = max(
            float(excess.mean()) if len(excess) else 0.0, 1e-3 * float(np.mean(self.scale)), 1e-9
        )

    def _distance(
        self, x: np.ndarray, exclude: Sequence[Sequence[int]] | None, groups: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """k-th smallest domination distance of each row to the reference units (minus `exclude[i]`),
        with `groups` also to the pooled reference groups."""
        out = np.zeros(len(x))
        nearest = np.zeros(len(x), np.int64)
        reference = np.concatenate([self.features, self.groups]) if groups else self.features
        for start in range(0, len(x), CHUNK):
            block = x[start : start + CHUNK]
            excess = np.maximum(block[:, None, :] - reference[None, :, :], 0) / self.scale
            d = excess.sum(axis=2)
            if exclude is not None:
                for i in range(len(block)):
                    d[i, list(exclude[start + i])] = np.inf
            kth = min(self.k, d.shape[1]) - 1
            part = np.partition(d, kth, axis=1)[:, kth]
            out[start : start + len(block)] = np.where(np.isfinite(part), part, 0.0)
            nearest[start : start + len(block)] = d.argmin(axis=1)
        return out, nearest

    def score(
        self, features: np.ndarray, exclude: Sequence[Sequence[int]] | None = None, *, groups: bool = False
    ) -> Scored:
        """Distances and p-values of rows of `features` (FEATURES columns); `exclude[i]`: reference units
        not to compare row i with (itself and its linked accounts, when the log is its own reference);
        `groups`: the rows are pooled groups, also compared with the honest reference's pooled groups."""
        distance, nearest = self._distance(np.atleast_2d(features), exclude, groups)
        at_least = self.n - np.searchsorted(self.loo, distance - 1e-12, side="left")
        p = (1 + at_least) / (1 + self.n)
        beyond = distance > self.loo[-1]
        tail = self.tail_n / (1 + self.n) * np.exp(-(distance - self.tail_from) / self.tail_scale)
        p = np.where(beyond, np.minimum(p, tail), p)
        return Scored(distance, np.minimum(p, 1.0), nearest)

    def reasons(self, row: np.ndarray, nearest: int, top: int = 3) -> list[str]:
        """What puts `row` beyond the honest unit that comes closest to it, in words."""
        closest = np.concatenate([self.features, self.groups])[nearest]
        excess = np.maximum(row - closest, 0) / self.scale
        out = []
        for j in np.argsort(-excess)[:top]:
            if excess[j] <= 0:
                break
            name = FEATURES[j]
            text, short = WORDS[name]
            out.append(
                f"{_fmt(text, row[j])} (closest honest account: {_fmt(short, closest[j])}; "
                f"honest median {_fmt(short, self.medians[j])})"
            )
        return out


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q-values), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return q
