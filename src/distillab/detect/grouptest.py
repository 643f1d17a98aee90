"""Group tests: a linked group whose accounts each sit at the edge of honest traffic is beyond it together.

One account beaten by only 1 of n = 384 honest reference accounts has p = 2/385 and can never pass a
0.1% target; 60 linked accounts that are all beaten by only that one honest account are evidence no
single account can give. The test here is exact for small samples:

Accounts and reference units are ranked on the statistic the per-behaviour p-values combine: the
smallest over behaviour families of how many honest reference units are at least as far out (for a
reference unit, how many others). Under the null, the group's k accounts and the n honest reference
units are exchangeable, so the group's positions in the pooled ranking (most extreme first, n + k
places) are a uniformly random k-subset. If
the group's j-th most extreme account is beaten by r reference units, its position is at most j + r, and

    p_j = P(at least j of the top j + r places go to the group) = hypergeom.sf(j - 1, n + k, k, j + r).

No one j suits every group (a campaign with a few ordinary members, one linked honest account), so the
statistic is the scan T = min over j of p_j, and its p-value is exact too: P(T <= t) is the probability
that a uniformly random k-subset puts, for some j, its j-th member within the top c_j(t) places (c_j(t):
the largest position whose p_j is <= t), computed by a dynamic programme over the n + k places
(`scan_p`; tests check it against enumeration and simulation). Ties with reference units count against
the group, so the test stays conservative where many accounts share a score (every dominated account
has distance 0).

The groups are not chosen at random, though: linking picks accounts that behave alike, and alike
accounts have alike scores, so a group's members are not exchangeable draws. `calibrate_groups` measures
how much that matters on honest traffic, the way the groups are really formed: the reference is split
in halves, one half linked (metadata and behaviour, `linking.link`) against the other as its honest
reference, and each honest group found is tested against that half. The halves keep each team (the
accounts linked on the whole reference: an agency's writers sharing an org and a payment id) whole,
and the reference half's distances leave each account's team out (`linking.leave_out`), as a real log
meets a reference that holds none of its teams: split account by account, a team's members would be
scored against their own teammates, and honest teams would look as ordinary in the calibration as
they look extreme in a log (on development logs of tests/traffic, content-writer teams of 3 to 4
reached exact p = 0.001 against a calibration that had not seen them whole).

If exchangeability held, the M honest groups' p-values would be valid: -log p at most exponential
with mean 1, the smallest of them below SURPRISE / M only with probability SURPRISE, and, more
generally, fewer than i of them below (i - 1 + SURPRISE) / M for each such level up to UNIFORM_UP_TO
(a share alpha at most alpha). `inflation` is the least power (at least 1) that restores these on the
honest groups seen: a group's p-value is raised to 1 / inflation. The mean and the smallest alone
left the middle of the range uncalibrated: on the halves of a development reference (tests/traffic,
seed 901), fitted on 8 splits and checked on 4 others, 1.8% of honest groups had a calibrated rank
p <= 0.005 and 6% p <= 0.05; with the levels, none and 3%. On valid (uniform) p-values of 200 groups
the power stays near 1 (1.11 on average).

The same halves calibrate the group's other test, its pooled traffic ranked among honest teams
(`Calibration.set_groups`): the reference's teams are linked on metadata alone, and an honest group on
a half reached pooled p = 7e-7 against the other half's teams, so the pooled p-value gets its own
inflation from the halves' honest groups. Groups linked on behaviour are a kind of their own: linking
picks them because they are unlike every honest reference account, so their members sit further out
than a team's; they are a few percent of the honest groups, and pooled with the rest their rank
p-values were smaller than the inflation allowed for. Each kind gets its own inflation from its own
honest groups, never less than the one from all of them (`GroupNull.power`).

This corrects the scale of the dependence the honest groups show; it cannot see a kind of honest group
the reference lacks. The null checks (tests/detect/test_grouptest.py, and `benchmarks/
detect_generalize.py --null --null-dev-2` with its honest-group calibration check) check on
honest-only logs over several seeds that groups are flagged no more often than the target allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.stats import hypergeom

from .alike import Profiles
from .features import AccountStats, StatsTable, shrink, table_of
from .linking import Links, leave_out, link
from .scoring import Calibration

SPLITS = 8
"""Random halvings of the reference whose honest groups calibrate the tests (8 rather than 4: groups
linked on behaviour are a few percent of the honest groups, about 4 per split on a reference of 1000)."""
FLOOR = 1e-300
"""p-values below this are reported as this (float64's range; the evidence is overwhelming either way)."""
SURPRISE = 0.05
"""Honest groups' smallest p-value, raised to 1 / inflation, is at least SURPRISE / (groups tested)."""
KIND_GROUPS = 20
"""Honest groups of one kind (linked on behaviour) needed for an inflation of their own: the mean -log p
of 5 groups is noise (a 200-account simulated reference gave 7.5 from 5, where all its 84 gave 2.2)."""
UNIFORM_UP_TO = 0.1
"""Up to this level, honest groups' calibrated p-values are at least as large as a uniform sample's."""


@dataclass(frozen=True)
class RankTest:
    """A group's exact rank test against the honest reference."""

    p_value: float
    """Exact scan p-value, calibrated (raised to 1 / inflation)."""
    exact_p: float
    """Before calibration: exact under exchangeability."""
    j: int
    """The group's j most extreme accounts carry the evidence..."""
    beaten_by: int
    """...the j-th of them beaten by this many reference units..."""
    n: int
    """...of this many."""
    k: int

    def words(self) -> str:
        shown = f"{self.p_value:.2g}" if self.p_value > FLOOR else f"< {FLOOR:g}"
        return (
            f"{self.j} of its {self.k} accounts are each beaten by at most {self.beaten_by} of "
            f"{self.n} honest reference accounts: p = {shown} (exact rank test)"
        )


@dataclass
class GroupNull:
    """How much more extreme honest groups, formed the way linking forms them, look than exchangeability
    says (`calibrate_groups`), in the rank test and in the pooled traffic's; for all honest groups and
    for those linked on behaviour."""

    inflation: float = 1.0
    """The rank test's, from all honest groups."""
    groups: int = 0
    """Honest groups found over the splits."""
    smallest_p: float = 1.0
    """The smallest exact p-value among them."""
    exact_p: list[float] = field(default_factory=list)
    pooled_p: list[float] = field(default_factory=list)
    """Their pooled traffic's p-values against the half's honest teams."""
    alike: list[bool] = field(default_factory=list)
    """Whether each was linked on behaviour."""
    pooled_inflation: float = 1.0
    alike_inflation: float = 1.0
    """The rank test's for groups linked on behaviour (at least `inflation`)."""
    alike_pooled_inflation: float = 1.0

    @classmethod
    def of(cls, exact_p: list[float], pooled_p: list[float], alike: list[bool]) -> GroupNull:
        """The inflations the honest groups' p-values need, per test, overall and for those linked on
        behaviour: from at least KIND_GROUPS of them, and never below the overall one (a handful of
        groups says little)."""
        rank, pooled = inflation(exact_p), inflation(pooled_p)
        enough = sum(alike) >= KIND_GROUPS
        alike_rank = inflation([p for p, a in zip(exact_p, alike) if a]) if enough else rank
        alike_pooled = inflation([p for p, a in zip(pooled_p, alike) if a]) if enough else pooled
        return cls(
            rank,
            len(exact_p),
            float(min(exact_p)),
            exact_p,
            pooled_p,
            alike,
            pooled,
            max(rank, alike_rank),
            max(pooled, alike_pooled),
        )

    def power(self, alike: bool) -> tuple[float, float]:
        """The inflation of a group's rank test and of its pooled traffic's test; `alike`: the group was
        linked on behaviour (or paraphrase)."""
        if alike:
            return self.alike_inflation, self.alike_pooled_inflation
        return self.inflation, self.pooled_inflation


def top_p(j: int, r: int, n: int, k: int) -> float:
    """P(at least j of the top j + r of n + k places go to a random k-subset)."""
    return float(hypergeom.sf(j - 1, n + k, k, min(j + r, n + k)))


def _top_ps(beaten: np.ndarray, n: int) -> np.ndarray:
    k = len(beaten)
    j = np.arange(1, k + 1)
    return np.asarray(hypergeom.sf(j - 1, n + k, k, np.minimum(j + beaten, n + k)), np.float64)


@lru_cache(maxsize=4096)
def scan_p(t: float, n: int, k: int) -> float:
    """P(min over j of p_j <= t) for a uniformly random k-subset of n + k places (exact). Kept per
    (t, n, k): scoring a log at checkpoints tests the same groups again and again (6,029 calls, 492
    distinct, on a 2 000-account log)."""
    total = n + k
    if t >= 1.0:
        return 1.0
    tolerance = t * (1 + 1e-9)
    j = np.arange(1, k + 1)
    low, high = j - 1, n + j  # per j: the largest m in [j, n + j] with p_j(m) <= t (j - 1: none)
    while (low < high).any():
        active = low < high
        middle = (low + high + 1) // 2
        fits = hypergeom.sf(j - 1, total, k, middle) <= tolerance
        low, high = np.where(active & fits, middle, low), np.where(active & ~fits, middle - 1, high)
    limits: dict[int, int] = {}
    for position, first in zip(low.tolist(), j.tolist()):
        if position >= first:
            limits.setdefault(position, first)  # j or more members by this position cross the boundary
    if not limits:
        return 0.0
    state = np.zeros(k + 1)
    state[0] = 1.0
    count = np.arange(k + 1)
    crossed = 0.0
    for position in range(1, max(limits) + 1):
        member = np.where(count < k, (k - count) / (total - position + 1), 0.0) * state
        state = state - member
        state[1:] += member[:-1]
        bound = limits.get(position)
        if bound is not None:
            crossed += float(state[bound:].sum())
            state[bound:] = 0.0
    return min(1.0, crossed)


def rank_test(beaten: np.ndarray | list[int], n: int, inflation: float = 1.0) -> RankTest:
    """The exact scan test of a group whose accounts are each beaten by `beaten[i]` of `n` honest
    reference units (counting ties against the group)."""
    ordered = np.sort(np.asarray(beaten, np.int64))
    k = len(ordered)
    ps = _top_ps(ordered, n)
    best = int(np.argmin(ps))
    exact = max(scan_p(float(ps[best]), n, k), FLOOR)
    return RankTest(calibrated(exact, inflation), exact, best + 1, int(ordered[best]), n, k)


def calibrated(p_value: float, inflation: float) -> float:
    """A group test's p-value raised to 1 / inflation (`inflation` from honest groups, at least 1)."""
    return min(1.0, max(p_value, FLOOR) ** (1.0 / max(inflation, 1.0)))


def beaten_by(calibration: Calibration, family_distance: np.ndarray) -> np.ndarray:
    """How many honest reference units are at least as extreme as each row (rows x behaviour families
    of distances), on the statistic the p-values combine: the smallest over families of the number of
    reference units at least as far out (for a reference unit, the others at least as far as it)."""
    reference = calibration.loo_unsorted[calibration.honest]
    counts = np.empty_like(reference)
    rows = np.empty((len(family_distance), reference.shape[1]))
    for f in range(reference.shape[1]):
        ordered = np.sort(reference[:, f])
        counts[:, f] = len(ordered) - np.searchsorted(ordered, reference[:, f] - 1e-12, side="left") - 1
        rows[:, f] = len(ordered) - np.searchsorted(ordered, family_distance[:, f] - 1e-12, side="left")
    own = np.sort(counts.min(axis=1))
    return np.searchsorted(own, rows.min(axis=1), side="right")


def halves(n: int, teams: list[list[int]], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random split of `n` accounts in two halves that keeps each team (rows linked on the whole
    table) in one half: a log holds an honest team whole, and its reference none of it."""
    team_of = np.arange(n)
    for t, rows in enumerate(teams):
        team_of[rows] = n + t
    units = np.unique(team_of)
    rng = np.random.default_rng(seed)
    order = units[rng.permutation(len(units))]
    sizes = np.bincount(np.searchsorted(units, team_of), minlength=len(units))[np.searchsorted(units, order)]
    first = set(order[np.cumsum(sizes) <= n // 2].tolist())
    in_first = np.array([t in first for t in team_of.tolist()])
    return np.flatnonzero(in_first), np.flatnonzero(~in_first)


@dataclass(frozen=True)
class HonestGroup:
    """An honest group that linking formed on one half of the reference, tested against the other."""

    split: int
    members: list[str]
    exact_p: float
    """Its rank test's exact p-value."""
    pooled_p: float
    """Its pooled traffic's p-value against the other half's honest teams."""
    alike: bool
    """Whether it was linked on behaviour."""


def honest_groups(
    table: StatsTable, prior: dict[str, float], links: Links | None = None, splits: int = SPLITS
) -> Iterator[HonestGroup]:
    """The honest groups that linking forms on halves of an honest `table`, each tested against the
    other half (see the module docstring; `links`: the table's own, whose teams stay whole in one half)."""
    teams = [[table.index[m] for m in cluster] for cluster in (links.clusters if links else [])]
    for split in range(splits):
        first, second = halves(len(table), teams, split)
        reference, log = table.subset(first), table.subset(second)
        calibration = honest_reference(reference, prior)
        links_ = link(log, Profiles.of(reference, prior) if reference.behaviour is not None else None)
        if not links_.clusters:
            continue
        beaten = beaten_by(calibration, calibration.score(shrink(log.raw(), prior)).family_distance)
        pooled = calibration.score(pooled_features(log, links_, prior), groups=True).p_value
        for c, cluster in enumerate(links_.clusters):
            exact = rank_test(beaten[[log.index[m] for m in cluster]], calibration.n).exact_p
            yield HonestGroup(split, cluster, exact, float(pooled[c]), links_.alike[c] is not None)


def calibrate_groups(
    table: StatsTable, prior: dict[str, float], links: Links | None = None, splits: int = SPLITS
) -> GroupNull:
    """The inflations that the honest groups on halves of an honest `table` (`honest_groups`) need:
    what a group's p-values are calibrated with."""
    if len(table) < 8:
        return GroupNull()
    found = list(honest_groups(table, prior, links, splits))
    if not found:
        return GroupNull()
    return GroupNull.of([g.exact_p for g in found], [g.pooled_p for g in found], [g.alike for g in found])


def honest_reference(table: StatsTable, prior: dict[str, float]) -> Calibration:
    """A half's calibration as `calibrate.calibrate` builds the reference's (distances leave each team
    out; pooled groups ranked among its honest teams), without behaviour, paraphrase or group null."""
    links = link(table)
    calibration = Calibration(shrink(table.raw(), prior), prior, exclude=leave_out(table, links))
    if links.clusters:
        calibration.set_groups(
            pooled_features(table, links, prior), [[table.index[m] for m in c] for c in links.clusters]
        )
    return calibration


def pooled_stats(table: StatsTable, clusters: list[list[str]]) -> list[AccountStats]:
    """Each linked group's pooled traffic: its members' stats merged, as one actor's (`group-1`, ...)."""
    pooled = []
    for i, cluster in enumerate(clusters):
        stats = AccountStats(f"group-{i + 1}")
        for name in cluster:
            stats.merge(table.stats(name))
        pooled.append(stats)
    return pooled


def pooled_features(table: StatsTable, links: Links, prior: dict[str, float]) -> np.ndarray:
    """The linked groups' pooled traffic as features shrunk to `prior`."""
    return shrink(table_of(pooled_stats(table, links.clusters), table.embedder).raw(), prior)


def inflation(exact_p: list[float]) -> float:
    """The power 1 / inflation that honest groups' p-values need (see the module docstring): at least 1;
    their mean -log p (1 for valid p-values, less for conservative ones); and what keeps the M honest
    p-values, raised to 1 / inflation, at or above a uniform sample's levels up to UNIFORM_UP_TO: the
    i-th smallest at least (i - 1 + SURPRISE) / M (the smallest at least SURPRISE / M, so that it is
    unsurprising; the i-th leaves at most i - 1 groups below (i - 1 + SURPRISE) / M)."""
    if not exact_p:
        return 1.0
    minus_log = np.sort(-np.log(np.maximum(np.asarray(exact_p), FLOOR)))[::-1]
    m = len(minus_log)
    level = (np.arange(m) + SURPRISE) / m
    within = (level <= UNIFORM_UP_TO) | (np.arange(m) == 0)
    uniform = float((minus_log[within] / -np.log(level[within])).max())
    return max(1.0, float(minus_log.mean()), uniform)


def bonferroni(*p_values: float) -> float:
    """Several tests of one hypothesis, combined: the smallest p-value times their number, at most 1."""
    return min(1.0, len(p_values) * min(p_values))


@dataclass(frozen=True)
class GroupTests:
    """A linked group's tests: its pooled traffic against the reference's honest teams, its members'
    rank test (with a reference), and the paraphrase test (when its accounts ask paraphrases of the
    same questions, `paraphrase.py`). Their Bonferroni combination is the group's p-value."""

    pooled: float
    rank: float | None = None
    paraphrase: float | None = None

    @property
    def tests(self) -> list[float]:
        return [p for p in (self.pooled, self.rank, self.paraphrase) if p is not None]

    @property
    def p_value(self) -> float:
        return bonferroni(*self.tests)

    def paraphrase_passes(self, target: float) -> bool:
        """Whether the paraphrase test alone, at its Bonferroni share, passes `target`."""
        return self.paraphrase is not None and len(self.tests) * self.paraphrase <= target

    def rank_passes(self, target: float) -> bool:
        """Whether the rank test alone, at its Bonferroni share, passes `target`."""
        return self.rank is not None and len(self.tests) * self.rank <= target

    def others_pass(self, target: float) -> bool:
        """Whether a test other than paraphrase, at its Bonferroni share, passes `target`."""
        others = [p for p in (self.pooled, self.rank) if p is not None]
        return len(self.tests) * min(others) <= target


def rank_groups(
    members: list[list[int]], family_distance: np.ndarray, calibration: Calibration, alike: list[bool]
) -> list[tuple[RankTest, np.ndarray]]:
    """The rank test of each group (rows of its accounts in `family_distance`, the accounts' own
    distances to the honest reference per behaviour family; `alike`: whether it was linked on behaviour
    or paraphrase), with how many reference units beat each member."""
    null = calibration.group_null or GroupNull()
    beaten = beaten_by(calibration, family_distance)
    n = int(calibration.honest.sum())
    return [
        (rank_test(beaten[rows], n, null.power(behaving)[0]), beaten[rows])
        for rows, behaving in zip(members, alike)
    ]
