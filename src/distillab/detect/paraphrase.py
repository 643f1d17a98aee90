"""Cross-account paraphrase overlap: accounts that ask paraphrases of the same questions.

    null = fit_null(reference_table, teams)           # once, with the calibration (honest accounts)
    found = paraphrase_groups(log_table, null)        # groups of log accounts, each with its test
    found[0].members, found[0].p_value, found[0].words()

A low-and-slow campaign spreads one set of questions over several accounts, each at an honest user's
volume and in its own words: per account nothing is unusual, but the accounts' prompts are paraphrases
of each other's far more often than of anything honest traffic asks.

**Prompts.** Each account keeps its first `behaviour.SAMPLE` prompts as their rarest words (up to
`behaviour.WORDS` word buckets of the lexical embedder, leaving out words common in the reference) and a
hash of the text. Words in many of an account's own kept prompts (`kept.TEMPLATE`) are its template (a
writer's "friendly tone, 1000 words", a support bot's boilerplate) and are left out too. A prompt has a
*paraphrase* in another account when one of that account's kept prompts shares its rare words
(at least `kept.MIN_SHARED` of them, IDF-weighted Jaccard at least `kept.JACCARD`: one shared rare word is a
topic, two or more a question) and its text differs: exact repeats (a benchmark's items sent
by several runners) are not paraphrases.

**Pairs.** Two accounts' overlap is the share of their kept prompts with a paraphrase in the other.
Honest accounts of one kind overlap too (support bots of one product, labelling teams on one item
pool), and so do they with the honest reference: a pair's *contrast* is its overlap divided by the
larger of the two accounts' highest overlap with any honest reference account. A campaign's private
question set is asked by no one honest. A pair is *linked* when its contrast exceeds `tau`, the
1 - `PAIR_QUANTILE` quantile of honest pairs' contrast, measured on halves of the reference (one half
as the log, the other as its reference; teams kept whole, as in `grouptest.halves`).

**Groups and their test.** Linked pairs' connected components are the groups. If honest pairs
were linked independently with probability q (the honest pairs' rate beyond `tau`), a set of k of a
log's N accounts would hold e or more links with probability at most C(N, k) x P(Binomial(C(k, 2), q)
>= e) over all k-subsets together (a union bound): that is a group's p-value. Honest links are not
independent (teams, personas), so, as for the group rank test (`grouptest.py`), the honest components
found the same way on the reference halves give an `inflation`: p-values are raised to 1 / inflation
so that the honest ones are valid. Only a group's 2-core (`ParaphraseGroup.core`) is linked into a
campaign and flagged with it.

On the development logs of tests/traffic (benchmarks/paraphrase_overlap.py) the honest components at
`tau` were mostly pairs and trees of 3 or 4 accounts (p near 1; the most extreme on the reference
halves, p 1.9e-5, three tutoring apps of three companies, sets the inflation at 1.6); a low-and-slow
campaign of 6 accounts held 4 to 11 links among its 15 pairs, a significant group in 4 of 6 logs.

Cost: sparse products of the kept prompts' word sets (prompts sharing a rare word): about (SAMPLE x
accounts) x (prompts sharing each rare word), for the log with itself and with the reference. Scored
again as it grows, a log pays for it only for the accounts whose kept prompts changed (`kept.Overlaps`).
The kept prompts, their comparison and what is kept between scorings are in `kept.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import gammaln
from scipy.stats import binom

from .features import StatsTable
from .grouptest import FLOOR, halves, inflation
from .kept import Kept, Overlaps, shares

PAIR_QUANTILE = 1e-4
"""Share of honest pairs (reference halves) whose contrast is beyond `tau`."""
FLOOR_SHARE = 1 / 32
"""Contrast denominators are at least this (two accounts with no honest overlap at all)."""
SPLITS = 4
PARAPHRASE = "ask paraphrases of the same questions"
"""The reason of a pair linked on paraphrase overlap."""


def contrast(within: np.ndarray, honest: np.ndarray) -> np.ndarray:
    """Pairs' overlap over the larger of the two accounts' highest overlap with an honest account."""
    bound = np.maximum(np.maximum(honest[:, None], honest[None, :]), FLOOR_SHARE)
    out = within / bound
    np.fill_diagonal(out, 0.0)
    return out


def union_p(k: int, edges: int, n: int, q: float) -> float:
    """P(some k of n accounts hold `edges` or more links) if each pair were linked independently with
    probability q, bounded by C(n, k) x P(Binomial(C(k, 2), q) >= edges)."""
    log_subsets = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    log_tail = float(binom.logsf(edges - 1, k * (k - 1) // 2, q))
    return float(min(1.0, math.exp(min(0.0, log_subsets + log_tail))))


@dataclass
class ParaphraseNull:
    """What honest pairs and groups look like (`fit_null`)."""

    reference: Kept
    tau: float
    """Contrast beyond which a pair is linked."""
    rate: float
    """Share of honest pairs beyond tau (q)."""
    inflation: float = 1.0
    groups: int = 0
    """Honest components of 2 or more accounts found on the halves."""
    smallest_p: float = 1.0


@dataclass(frozen=True)
class ParaphraseGroup:
    """Accounts linked by asking paraphrases of the same questions, and the group's test."""

    members: list[str]
    links: int
    p_value: float
    """Calibrated (raised to 1 / inflation)."""
    exact_p: float
    median_share: float
    """Median overlap of its linked pairs."""
    core: list[str] = field(default_factory=list)
    """The members that carry the evidence: those left with 2 or more links when members with fewer
    are peeled off, over and over (the 2-core). Honest pairs pass `tau` by chance (about 1 in 10 000,
    some 18 pairs in a log of 600 accounts), so an honest account can hang on a campaign by one link;
    by two, hardly ever. Only the core is linked into a group and flagged with it."""
    core_pairs: list[tuple[str, str]] = field(default_factory=list)

    def words(self) -> str:
        shown = f"{self.p_value:.2g}" if self.p_value > FLOOR else f"< {FLOOR:g}"
        return (
            f"{len(self.members)} accounts ask paraphrases of the same questions ({self.links} linked "
            f"pairs, median {self.median_share:.0%} of their prompts paraphrased in the other, far "
            f"beyond honest pairs): p = {shown}"
        )


def _components(linked: np.ndarray) -> list[np.ndarray]:
    count, label = connected_components(csr_matrix(linked), directed=False)
    return [m for c in range(count) if len(m := np.flatnonzero(label == c)) > 1]


def _core(linked: np.ndarray) -> np.ndarray:
    """Which nodes of a symmetric link matrix are in its 2-core (nodes with fewer than 2 links peeled
    off until none is left)."""
    keep = np.ones(len(linked), bool)
    while True:
        weak = keep & (linked[:, keep].sum(axis=1) < 2)
        if not weak.any():
            return keep
        keep &= ~weak


def fit_null(table: StatsTable, teams: list[list[int]], splits: int = SPLITS) -> ParaphraseNull:
    """Honest pairs' contrast and honest groups' p-values on halves of an honest reference `table`
    (`teams`: rows linked on the whole table, kept in one half)."""
    reference = Kept.of(table)
    within = shares(reference)
    position = {int(r): i for i, r in enumerate(reference.rows)}
    samples: list[np.ndarray] = []
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for split in range(splits):
        first, second = halves(len(table), teams, 1000 + split)
        log = np.array([position[r] for r in second.tolist() if r in position], np.int64)
        ref = np.array([position[r] for r in first.tolist() if r in position], np.int64)
        if len(log) < 2 or not len(ref):
            continue
        c = contrast(within[np.ix_(log, log)], within[np.ix_(log, ref)].max(axis=1))
        samples.append(c[np.triu_indices(len(log), 1)])
        parts.append((log, c))
    if not samples:
        return ParaphraseNull(reference, math.inf, 0.0)
    pooled = np.concatenate(samples)
    tau = float(np.quantile(pooled, 1 - PAIR_QUANTILE))
    rate = max(float(np.mean(pooled > tau)), 1.0 / len(pooled))
    exact = []
    for log, c in parts:
        linked = c > tau
        for members in _components(linked):
            edges = int(np.count_nonzero(np.triu(linked[np.ix_(members, members)], 1)))
            exact.append(max(union_p(len(members), edges, len(log), rate), FLOOR))
    return ParaphraseNull(
        reference, tau, rate, inflation(exact), len(exact), float(min(exact)) if exact else 1.0
    )


def paraphrase_groups(
    table: StatsTable, null: ParaphraseNull, overlaps: Overlaps | None = None
) -> list[ParaphraseGroup]:
    """The log's groups of accounts linked by paraphrase, each tested (most significant first).
    `overlaps`: what an earlier scoring of this growing table kept (`Overlaps(null.reference)`, made
    once and passed at every scoring); without it all is computed afresh, to the same result."""
    log = Kept.of(table)
    if len(log) < 2 or not math.isfinite(null.tau):
        return []
    overlaps = overlaps if overlaps is not None else Overlaps(null.reference)
    assert overlaps.reference is null.reference, "overlaps kept against another reference"
    within, honest = overlaps.of(table, log)
    linked = contrast(within, honest) > null.tau
    names = [table.names[r] for r in log.rows.tolist()]
    out = []
    for members in _components(linked):
        upper = np.triu(linked[np.ix_(members, members)], 1)
        a, b = np.nonzero(upper)
        exact = max(union_p(len(members), len(a), len(log), null.rate), FLOOR)
        core = _core(upper | upper.T)
        out.append(
            ParaphraseGroup(
                members=[names[m] for m in members.tolist()],
                links=len(a),
                p_value=min(1.0, exact ** (1.0 / max(null.inflation, 1.0))),
                exact_p=exact,
                median_share=float(np.median(within[members[a], members[b]])),
                core=[names[m] for m in members[core].tolist()],
                core_pairs=[
                    (names[members[x]], names[members[y]])
                    for x, y in zip(a.tolist(), b.tolist())
                    if core[x] and core[y]
                ],
            )
        )
    return sorted(out, key=lambda g: g.p_value)
