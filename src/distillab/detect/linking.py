"""Campaign linking: which accounts act as one.

Evidence between two accounts adds up (weights below); accounts whose evidence reaches `LINK_AT` are
joined, and connected components become candidate campaigns, scored later on their pooled traffic.

| evidence | weight |
|---|---|
| same payment id | 2 |
| near-duplicate prompt templates (MinHash LSH over prompt skeletons, Jaccard >= 0.3) | 1 |
| same org | 1 |
| a shared IP /24 (or /48) prefix | 1 |
| same, rare user agent (used by under 1% of accounts) | 0.5 |
| synchronised activity (cosine of hourly request counts >= 0.8), given other evidence | 1 |
| behave alike, and unlike the honest reference (`alike.py`) | 2 |
| ask paraphrases of the same questions, unlike honest pairs (`paraphrase.py`, passed as `joined`) | 2 |

No single network signal links on its own, so honest users behind one corporate proxy stay apart
unless they also share templates, an org or a payment method; nor do shared templates alone, so
teams at different companies running the same public benchmark stay apart. Behaving alike links on
its own, but only where the honest reference (`reference`: its accounts' profiles) has no account
nearly as close to either of the two: a campaign's accounts need share no payment id, org or network.
Without a reference, behaviour does not link (`alike.py` says why).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from distillab.detect.alike import Pair, Profiles, alike, describe
from distillab.detect.features import StatsTable
from distillab.detect.sketches import MINHASH
from distillab.detect.text import mix64

LINK_AT = 2.0
MAX_GROUP = 500
"""Groups sharing one value larger than this (a huge proxy, a common user agent) are not paired."""
BANDS = 16
"""LSH bands over the MinHash signature (rows per band: MINHASH / BANDS)."""
JACCARD = 0.3
PAIRS = 65_536
"""Candidate pairs whose signatures are compared at once."""


@dataclass
class Links:
    clusters: list[list[str]]
    """Connected components with at least two accounts."""
    reasons: dict[frozenset[str], list[str]] = field(default_factory=dict)
    """Why each linked pair was linked."""
    alike: list[str | None] = field(default_factory=list)
    """Per cluster: how its accounts behave alike, in words (None where none were linked so)."""


ALIKE = "behave alike"
"""The reason of a pair linked on behaviour (the cluster's `Links.alike` says how alike)."""


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def link(
    table: StatsTable, reference: Profiles | None = None, joined: Sequence[tuple[str, str, str]] = ()
) -> Links:
    """Cluster the table's accounts on shared metadata, templates, timing and, given the honest
    `reference`'s profiles, behaviour; `joined`: pairs of accounts linked by other evidence (account,
    account, reason), such as asking paraphrases of the same questions."""
    names = table.names
    n = len(names)
    weights: dict[int, float] = defaultdict(float)
    why: dict[int, list[tuple[str, str]]] = defaultdict(list)

    def add_groups(values: dict[str, list[int]], weight: float, what: str) -> None:
        for value, members in values.items():
            if 2 <= len(members) <= MAX_GROUP:
                for a, b in combinations(sorted(members), 2):
                    key = a * n + b
                    weights[key] += weight
                    if len(why[key]) < 4:
                        why[key].append((what, value))

    def index(attribute: str) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for row, values in enumerate(table.meta[attribute][:n]):
            for value in values:
                out[value].append(row)
        return out

    add_groups(index("payments"), 2.0, "same payment id")
    add_groups(index("orgs"), 1.0, "same org")
    add_groups(index("prefixes"), 1.0, "shared network")
    agents = index("agents")
    add_groups({ua: m for ua, m in agents.items() if len(m) < max(2, 0.01 * n)}, 0.5, "same rare user agent")

    signatures = table.skeletons[:n]
    usable = np.flatnonzero((signatures[:, 0] != np.iinfo(np.uint64).max) & (table.counts["n"][:n] >= 3))
    rows = MINHASH // BANDS
    candidates: set[int] = set()
    for band in range(BANDS):
        keys = np.zeros(len(usable), np.uint64)
        for column in range(band * rows, (band + 1) * rows):
            keys = mix64(keys ^ signatures[usable, column])
        _, bucket, sizes = np.unique(keys, return_inverse=True, return_counts=True)
        bucket = bucket.reshape(-1)
        for shared in np.flatnonzero((sizes >= 2) & (sizes <= MAX_GROUP)):
            rows_in = np.sort(usable[bucket == shared])
            first, second = np.triu_indices(len(rows_in), 1)  # the pairs in `combinations` order
            candidates.update((rows_in[first] * n + rows_in[second]).tolist())
    keys = np.fromiter(candidates, np.int64, len(candidates))
    for start in range(0, len(keys), PAIRS):
        chunk = keys[start : start + PAIRS]
        agree = (signatures[chunk // n] == signatures[chunk % n]).mean(axis=1)
        for key in chunk[agree >= JACCARD].tolist():
            weights[key] += 1.0
            why[key].append(("near-duplicate prompt templates", ""))

    alike_keys: dict[int, Pair] = {}
    if table.behaviour is not None and reference is not None:
        profiles = Profiles.of(table, reference.prior, reference.scale)
        alike_keys = {pair.first * n + pair.second: pair for pair in alike(profiles, reference)}
        for key in alike_keys:
            weights[key] += 2.0
            why[key].append((ALIKE, ""))

    for first_name, second_name, reason in joined:
        x, y = sorted((table.index[first_name], table.index[second_name]))
        weights[x * n + y] += LINK_AT
        why[x * n + y].append((reason, ""))

    pending = [key for key, weight in weights.items() if 0 < weight < LINK_AT]
    if pending:
        activity = _hourly(table)
        pairs = np.array(pending, np.int64)
        left, right = pairs // n, pairs % n
        active = (np.count_nonzero(activity[left], axis=1) >= 5) & (
            np.count_nonzero(activity[right], axis=1) >= 5
        )
        cosine = np.einsum("ij,ij->i", activity[left], activity[right])
        for key in pairs[active & (cosine >= 0.8)].tolist():
            weights[key] += 1.0
            why[key].append(("synchronised activity", ""))

    groups = _UnionFind()
    for key, weight in weights.items():
        if weight >= LINK_AT:
            groups.union(*(names[i] for i in divmod(key, n)))
    components: dict[str, list[str]] = defaultdict(list)
    for name in names:
        components[groups.find(name)].append(name)
    clusters = sorted((sorted(m) for m in components.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    reasons = {
        frozenset(names[i] for i in divmod(key, n)): [f"{what} {value}".strip() for what, value in why[key]]
        for key, weight in weights.items()
        if weight >= LINK_AT
    }
    alike_pairs: dict[str, list[Pair]] = defaultdict(list)
    for key, pair in alike_keys.items():
        alike_pairs[groups.find(names[key // n])].append(pair)
    described = [
        describe(found, len(cluster)) if (found := alike_pairs.get(groups.find(cluster[0]))) else None
        for cluster in clusters
    ]
    return Links(clusters, reasons, described)


def _hourly(table: StatsTable) -> np.ndarray:
    """Unit-length vectors of requests per hour, one row per account."""
    n = len(table.names)
    first = min((min(h) for h in table.hours[:n] if h), default=0)
    last = max((max(h) for h in table.hours[:n] if h), default=0)
    out = np.zeros((n, last - first + 1), np.float32)
    for row, hours in enumerate(table.hours[:n]):
        if hours:
            out[row, np.fromiter(hours.keys(), np.int64) - first] = np.fromiter(hours.values(), np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=out, where=norms > 0)


def leave_out(table: StatsTable, links: Links) -> list[list[int]]:
    """For each account of an honest reference `table`, the rows its reference distance leaves out:
    itself and the accounts linked with it. A log account is scored against a reference that does not
    hold its team (another period, another customer base), so its honest counterparts in the reference
    are measured the same way; otherwise an honest team's members (a content agency's writers, alike
    and sharing an org) look ordinary in the reference, each dominated by a teammate, and extreme in a
    log."""
    out = [[i] for i in range(len(table))]
    for cluster in links.clusters:
        rows = sorted(table.index[m] for m in cluster)
        for row in rows:
            out[row] = rows
    return out
