"""Calibrated scores per behaviour: is an account (or a linked group) beyond everything honest traffic does?

Honest heavy users are extreme in some direction: benchmark teams send thousands of templated one-off
prompts with log-probabilities, labelling companies thousands of new items, people long conversations
across many topics. What they do not do is all of it at once. Within a *behaviour family* (`FAMILIES`:
what every harvest does, plus breadth, reasoning or the teacher's distribution) the score is a
*domination distance*: how far an account must be pulled back, feature by feature, before some honest
reference unit is at least as high on every feature of the family (larger is more like distillation):

    D_f(x) = min over reference units r of  sum_{j in f} max(0, x_j - r_j) / s_j      (s_j: the spread)

D_f = 0 when some honest account does at least as much of everything in the family.

Each family has its own conformal p-value. Calibration uses honest traffic only: each reference unit
(honest accounts, and the pooled groups that linking finds among them) gets its leave-one-out distance
to the others (leaving out its linked team, `linking.leave_out`), and an account's p-value is its rank
among the accounts', p_f = (1 + #{D_ref >= D}) / (1 + N), valid for an honest account exchangeable
with the reference (P(p_f <= a) <= a); a linked group's pooled p-value is its rank among the honest
pooled groups' (`Calibration.set_groups`), the units it is exchangeable with. The families are
combined with Bonferroni, p = min(1, F * min_f p_f): valid whatever the dependence between them (they
share the harvesting core, so they are far from independent; Simes would need a positive dependence
that nobody has shown for these distances), at the price of a factor F = 3. What the split buys: an
honest account far out in one family (a benchmark runner asking for log-probabilities) raises the
reference distances of that family, so it no longer caps the p-values of accounts far out in another
(step-by-step answers over every topic). Re-ranking the smallest p_f against the reference would
bring the cap back (the benchmark runner's smallest p_f is as small as anyone's), so Bonferroni it is.

Ranks give no p_f below 1/(N+1), so no p below F/(N+1) (`Calibration.smallest_p`; `certify` says at
the start of a run what that allows). Beyond the largest reference distance p_f continues with an
exponential tail fitted to the reference distances above a threshold (the top 1%, at least 20), its
scale at the upper 99% confidence bound of the estimate, and never lighter than a tail through the
largest reference distance at its rank 1/(N+1): one honest account far beyond the rest means a heavy
tail, not an impossibility. A family with fewer than `MIN_EXCEED` positive distances above the
threshold gets no tail. These p-values rest on that model, not on ranks: `Scored.from_tail` marks them.

    calibration = Calibration(reference_features, prior)
    scored = calibration.score(features)          # per family: D, p, nearest honest unit; p combined
    calibration.reasons(features[i], scored, i)   # why, in words
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import chi2

from .features import FEATURES

if TYPE_CHECKING:
    from .alike import Profiles
    from .grouptest import GroupNull
    from .paraphrase import ParaphraseNull

CORE = ("single_shot", "novelty", "output")
"""What every harvest does: one-off prompts, new ones all the time, answers worth keeping."""
FAMILIES: dict[str, tuple[str, ...]] = {
    "breadth": (*CORE, "coverage"),
    "reasoning": (*CORE, "reasoning"),
    "distribution": (*CORE, "distribution"),
}
"""Behaviour families, each scored and calibrated on its own: the harvesting core plus what a campaign
harvests, topic breadth, step-by-step reasoning, or the teacher's distribution. The core keeps each
family apart from the honest accounts that share its signal: a labelling company sends one-off new
items across topics but wants a word back; a benchmark runner asks for log-probabilities (or worked
answers) on the same items run after run; people cover topics in conversations."""
FAMILY_WORDS = {
    "breadth": "broad harvesting (one-off, new prompts over many topics, long answers)",
    "reasoning": "reasoning harvesting (one-off, new prompts asking for step-by-step answers)",
    "distribution": "distribution harvesting (one-off, new prompts asking for log-probabilities or samples)",
}
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
MIN_EXCEED = 10
"""A family's tail is fitted only on at least this many reference distances above its threshold."""
TAIL_CONFIDENCE = 0.99
ALSO_P = 0.01
"""Reasons also name the other families where a unit's p-value is at most this."""
CHUNK = 256
_COLUMNS = [[FEATURES.index(name) for name in members] for members in FAMILIES.values()]


@dataclass(frozen=True)
class Tail:
    """One family's reference distances (sorted) and the exponential tail fitted beyond them."""

    loo: np.ndarray
    start: float
    exceed: int
    """Reference distances above `start`; the tail is fitted on them (0: none, and no tail unless a
    scale is given: `Calibration.set_groups` borrows the accounts' for the honest teams)."""
    scale: float
    """The tail's scale (0: no tail, ranks only)."""

    @classmethod
    def fit(cls, distances: np.ndarray, *, extrapolate: bool = True) -> Tail:
        loo = np.sort(distances)
        start = float(loo[-max(MIN_TAIL, int(TAIL_FRACTION * len(loo))) :][0])
        above = loo[loo > start] - start
        if not extrapolate or start <= 0 or len(above) < MIN_EXCEED:
            return cls(loo, start, 0, 0.0)
        m = len(above)
        # The mean of m exponential excesses is scale * chi2(2m) / 2m: take its upper confidence bound,
        # and never a tail so light that the largest reference distance would itself be rarer than
        # its rank says (1 / (N + 1)): far honest outliers mean a heavy tail.
        upper = 2 * m * float(above.mean()) / float(chi2.ppf(1 - TAIL_CONFIDENCE, 2 * m))
        return cls(loo, start, m, max(upper, float(above.max()) / math.log(1 + m)))

    def p_value(self, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Conformal p-values of `distance`, and whether each came from the tail (below 1/(N+1))."""
        n = len(self.loo)
        at_least = n - np.searchsorted(self.loo, distance - 1e-12, side="left")
        p = (1 + at_least) / (1 + n)
        if self.scale <= 0:
            return p, np.zeros(len(p), bool)
        tail = (1 + self.exceed) / (1 + n) * np.exp(-(distance - self.start) / self.scale)
        from_tail = (distance > self.loo[-1]) & (tail < p)
        return np.where(from_tail, tail, p), from_tail


@dataclass(frozen=True)
class Scored:
    """Rows x families: distances, p-values, the nearest honest unit; combined over families. The
    combined arrays are computed once (reports read them row by row)."""

    family_distance: np.ndarray
    family_p: np.ndarray
    family_nearest: np.ndarray
    family_from_tail: np.ndarray

    @cached_property
    def family(self) -> np.ndarray:
        """Index (into FAMILIES) of each row's most unusual family: the one that decides its p-value."""
        p = self.family_p
        best = p.min(axis=1, keepdims=True)
        # Ties (every family at p = 1, say) go to the family where the row is farthest out.
        return np.where(p <= best, self.family_distance, -np.inf).argmax(axis=1)

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return values[np.arange(len(values)), self.family]

    @cached_property
    def p_value(self) -> np.ndarray:
        """Bonferroni over the families."""
        return np.minimum(1.0, len(FAMILIES) * self.family_p.min(axis=1))

    @cached_property
    def distance(self) -> np.ndarray:
        return self._pick(self.family_distance)

    @cached_property
    def nearest(self) -> np.ndarray:
        """The reference unit that comes closest to dominating each row, in its deciding family."""
        return self._pick(self.family_nearest)

    @cached_property
    def from_tail(self) -> np.ndarray:
        """Whether each row's p-value rests on the fitted tail rather than on ranks."""
        return self._pick(self.family_from_tail)

    @staticmethod
    def concat(parts: Sequence[Scored]) -> Scored:
        return Scored(
            *(
                np.concatenate([getattr(s, name) for s in parts])
                for name in ("family_distance", "family_p", "family_nearest", "family_from_tail")
            )
        )


def _fmt(template: str, v: float) -> str:
    return template.format(v=v, e=math.exp(v), b=2**v - 1)


class Calibration:
    """Honest reference units' features, their leave-one-out distances per family, and fitted tails."""

    def __init__(
        self,
        features: np.ndarray,
        prior: dict[str, float],
        *,
        k: int = 1,
        exclude: Sequence[Sequence[int]] | None = None,
        names: Sequence[str] | None = None,
        honest: np.ndarray | None = None,
        extrapolate: bool = True,
    ):
        """`exclude[i]`: units reference unit i is not compared with (default: itself); `honest`: the
        units that vouch for others and calibrate the p-values (default: all; the self-calibration
        leaves its suspects out); `extrapolate`: fit tails beyond the largest reference distances."""
        if len(features) == 0:
            raise ValueError("an empty reference")
        self.features = np.asarray(features, np.float64)
        self.honest = np.ones(len(self.features), bool) if honest is None else np.asarray(honest, bool)
        if not self.honest.any():
            raise ValueError("no honest reference unit")
        self.groups = np.zeros((0, self.features.shape[1]))
        """Pooled honest reference groups: extra dominators when a linked group is scored (`set_groups`)."""
        self.group_tails: list[Tail] | None = None
        """Per family, the honest pooled groups' distances: a pooled group's p-value is ranked among them."""
        self.extrapolate = extrapolate
        self.prior = prior
        self.behaviour: Profiles | None = None
        """The honest reference accounts' behaviour profiles (behavioural linking compares with them)."""
        self.group_null: GroupNull | None = None
        """How honest groups formed by linking fare in the group rank test (`grouptest.calibrate_groups`)."""
        self.paraphrase: ParaphraseNull | None = None
        """Honest pairs' and groups' paraphrase overlap (`paraphrase.fit_null`)."""
        self.k = max(1, k)
        self.names = list(names) if names is not None else [f"reference-{i}" for i in range(len(features))]
        kept = self.features[self.honest]
        self.scale = np.maximum(kept.std(axis=0), [MIN_SCALE[f] for f in FEATURES])
        self.medians = np.median(kept, axis=0)
        exclude = exclude or [[i] for i in range(len(features))]
        self.loo_unsorted = self._distance(self.features, exclude)[0]
        self.tails = [
            Tail.fit(self.loo_unsorted[self.honest, f], extrapolate=extrapolate) for f in range(len(FAMILIES))
        ]

    def set_groups(self, features: np.ndarray, members: Sequence[Sequence[int]]) -> None:
        """The honest reference's pooled groups (`features`: FEATURES rows; `members[g]`: the reference
        rows of group g). Each gets its distance to the other reference units (its own members left
        out), and a pooled group in a log is ranked among those distances, not among single accounts':
        pooled traffic is shrunk less towards the prior and spans its members' topics, so an honest
        team's pooled traffic lies beyond honest single accounts without lying beyond honest teams.
        Beyond the farthest honest team, a family whose teams give no tail of their own (fewer than
        MIN_EXCEED beyond the top ones: most teams are dominated, distance 0) continues from that
        team's rank, 1/(M+1), at the accounts' tail scale: a campaign of twenty thin accounts on one
        payment id is beyond every honest team, and M ranks alone could not say by how much."""
        self.groups = np.asarray(features, np.float64).reshape(-1, self.features.shape[1])
        self.group_tails = None
        if not len(self.groups):
            return
        n = len(self.features)
        exclude = [[*rows, n + g] for g, rows in enumerate(members)]
        loo = self._distance(self.groups, exclude, groups=True)[0]
        self.group_tails = []
        for f, accounts in enumerate(self.tails):
            tail = Tail.fit(loo[:, f], extrapolate=self.extrapolate)
            if not tail.exceed and accounts.exceed:
                # Too few honest teams beyond the rest for a tail of their own (most are dominated:
                # distance 0): beyond the farthest one, p decays from its rank at the accounts' rate.
                tail = Tail(tail.loo, float(tail.loo[-1]), 0, accounts.scale)
            self.group_tails.append(tail)

    @property
    def n(self) -> int:
        """Reference units the p-values are ranked among."""
        return len(self.tails[0].loo)

    def smallest_p(self) -> float:
        """The smallest combined p-value ranks alone can give: F / (N + 1)."""
        return min(1.0, len(FAMILIES) * (1 / (1 + self.n)))  # as `score` computes it, to the last bit

    def _distance(
        self, x: np.ndarray, exclude: Sequence[Sequence[int]] | None, groups: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per family (columns), the k-th smallest domination distance of each row to the reference
        units (minus `exclude[i]`), with `groups` also to the pooled reference groups; and the nearest."""
        out = np.zeros((len(x), len(FAMILIES)))
        nearest = np.zeros((len(x), len(FAMILIES)), np.int64)
        reference = np.concatenate([self.features, self.groups]) if groups else self.features
        blocked = np.flatnonzero(~self.honest)  # suspects vouch for no one
        for start in range(0, len(x), CHUNK):
            block = x[start : start + CHUNK]
            excess = np.maximum(block[:, None, :] - reference[None, :, :], 0) / self.scale
            for f, columns in enumerate(_COLUMNS):
                d = excess[:, :, columns].sum(axis=2)
                d[:, blocked] = np.inf
                if exclude is not None:
                    for i in range(len(block)):
                        d[i, list(exclude[start + i])] = np.inf
                kth = min(self.k, d.shape[1]) - 1
                part = np.partition(d, kth, axis=1)[:, kth]
                out[start : start + len(block), f] = np.where(np.isfinite(part), part, 0.0)
                nearest[start : start + len(block), f] = d.argmin(axis=1)
        return out, nearest

    def score(
        self, features: np.ndarray, exclude: Sequence[Sequence[int]] | None = None, *, groups: bool = False
    ) -> Scored:
        """Distances and p-values of rows of `features` (FEATURES columns); `exclude[i]`: reference units
        not to compare row i with (itself and its linked accounts, when the log is its own reference);
        `groups`: the rows are pooled groups, also compared with the honest reference's pooled groups,
        and ranked among those (`set_groups`) where the reference has any."""
        distance, nearest = self._distance(np.atleast_2d(features), exclude, groups)
        p = np.empty_like(distance)
        from_tail = np.zeros(distance.shape, bool)
        tails = self.group_tails if groups and self.group_tails is not None else self.tails
        for f, tail in enumerate(tails):
            p[:, f], from_tail[:, f] = tail.p_value(distance[:, f])
        return Scored(distance, np.minimum(p, 1.0), nearest, from_tail)

    def reasons(self, row: np.ndarray, scored: Scored, i: int, top: int = 3) -> list[str]:
        """What puts `row` (row `i` of `scored`) beyond honest traffic, in words: its most unusual
        behaviour family, that family's features beyond the honest unit that comes closest, and the
        other families where it is unusual too."""
        if scored.distance[i] <= 0:
            return []
        family = int(scored.family[i])
        out = [self._family(scored, i, family)]
        closest = np.concatenate([self.features, self.groups])[int(scored.family_nearest[i, family])]
        columns = _COLUMNS[family]
        excess = np.maximum(row[columns] - closest[columns], 0) / self.scale[columns]
        for j in np.argsort(-excess)[:top]:
            if excess[j] <= 0:
                break
            c = columns[j]
            text, short = WORDS[FEATURES[c]]
            out.append(
                f"{_fmt(text, row[c])} (closest honest account: {_fmt(short, closest[c])}; "
                f"honest median {_fmt(short, self.medians[c])})"
            )
        for other in np.argsort(scored.family_p[i]):
            if other != family and scored.family_p[i, other] <= ALSO_P:
                out.append("also " + self._family(scored, i, int(other)))
        return out

    def _family(self, scored: Scored, i: int, family: int) -> str:
        nearest = int(scored.family_nearest[i, family])
        who = self.names[nearest] if nearest < len(self.names) else "a pooled group of honest accounts"
        tail = (
            " (beyond every honest account; from the fitted tail)"
            if scored.family_from_tail[i, family]
            else ""
        )
        return (
            f"{FAMILY_WORDS[list(FAMILIES)[family]]}: p {scored.family_p[i, family]:.2g} in this behaviour"
            f"{tail}; closest honest account {who}"
        )


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
