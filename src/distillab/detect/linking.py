"""Campaign linking: which accounts act as one.

Evidence between two accounts adds up (weights below); accounts whose evidence reaches `LINK_AT` are
joined, and connected components become candidate campaigns, scored later on their pooled traffic.

| evidence | weight |
|---|---|
| same payment id | 2 |
| near-duplicate prompt templates (MinHash LSH over prompt skeletons, Jaccard >= 0.3) | 2 |
| same org | 1 |
| a shared IP /24 (or /48) prefix | 1 |
| same, rare user agent (used by under 1% of accounts) | 0.5 |
| synchronised activity (cosine of hourly request counts >= 0.8), given other evidence | 1 |

No single network signal links on its own, so honest users behind one corporate proxy stay apart
unless they also share templates, an org or a payment method.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from datasketch import MinHash, MinHashLSH

from distillab.detect.features import AccountStats

LINK_AT = 2.0
MAX_GROUP = 500
"""Groups sharing one value larger than this (a huge proxy, a common user agent) are not paired."""
NUM_PERM = 64


@dataclass
class Links:
    clusters: list[list[str]]
    """Connected components with at least two accounts."""
    reasons: dict[frozenset[str], list[str]] = field(default_factory=dict)
    """Why each linked pair was linked."""


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


def _signature(stats: AccountStats) -> MinHash:
    signature = MinHash(num_perm=NUM_PERM, seed=1)
    signature.update_batch([h.to_bytes(4, "little") for h in stats.skeletons])
    return signature


def _cosine(a: dict[int, int], b: dict[int, int]) -> float:
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def link(accounts: Iterable[AccountStats]) -> Links:
    """Cluster accounts on shared metadata, templates and timing."""
    stats = {s.account: s for s in accounts}
    weights: dict[frozenset[str], float] = defaultdict(float)
    reasons: dict[frozenset[str], list[str]] = defaultdict(list)

    def add_groups(values: dict[str, set[str]], weight: float, what: str) -> None:
        for value, members in values.items():
            if 2 <= len(members) <= MAX_GROUP:
                for a, b in combinations(sorted(members), 2):
                    pair = frozenset((a, b))
                    weights[pair] += weight
                    reasons[pair].append(f"{what} {value}")

    def index(attribute: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for s in stats.values():
            for value in getattr(s, attribute):
                out[value].add(s.account)
        return out

    add_groups(index("payments"), 2.0, "same payment id")
    add_groups(index("orgs"), 1.0, "same org")
    add_groups(index("prefixes"), 1.0, "shared network")
    agents = index("agents")
    rare = {ua: m for ua, m in agents.items() if len(m) < max(2, 0.01 * len(stats))}
    add_groups(rare, 0.5, "same rare user agent")

    lsh = MinHashLSH(threshold=0.3, num_perm=NUM_PERM)
    signatures = {}
    for name, s in stats.items():
        if len(s.skeletons) >= 3:
            signatures[name] = _signature(s)
            lsh.insert(name, signatures[name])
    for name, signature in signatures.items():
        for other in lsh.query(signature):
            if other > name and signature.jaccard(signatures[other]) >= 0.3:
                pair = frozenset((name, other))
                weights[pair] += 2.0
                reasons[pair].append("near-duplicate prompt templates")

    for pair, weight in list(weights.items()):
        a, b = (stats[x] for x in pair)
        if 0 < weight < LINK_AT and len(a.hours) >= 5 and len(b.hours) >= 5 and _cosine(a.hours, b.hours) >= 0.8:
            weights[pair] += 1.0
            reasons[pair].append("synchronised activity")

    groups = _UnionFind()
    for pair, weight in weights.items():
        if weight >= LINK_AT:
            groups.union(*pair)
    members: dict[str, list[str]] = defaultdict(list)
    for name in stats:
        members[groups.find(name)].append(name)
    clusters = sorted((sorted(m) for m in members.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    return Links(clusters, {p: r for p, r in reasons.items() if weights[p] >= LINK_AT})
