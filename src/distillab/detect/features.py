"""Per-account behaviour, accumulated incrementally, and the features the detector scores.

Two ways in, one state and one set of formulas:

    stats = AccountStats("acct-1", embedder)       # live: one request at a time
    stats.update(record)                            # constant work per request (a DESIGN.md log record)

    table = StatsTable(embedder)                    # offline: column batches from logs.read_batches
    table.update(columns)                           # vectorised; table.stats(name) -> AccountStats

    verdicts = calibrate.score_accounts([stats], calibration)   # p-value, flag, reasons in words

The embedder and the calibration come from honest reference traffic (`run.prepare_reference`).

Memory grows with accounts, not requests: per account a handful of counters, a topic histogram
(`text.K` bins), a HyperLogLog sketch of distinct prompts, a MinHash of prompt skeletons (`sketches`), active
days and hours, and capped sets of network prefixes, user agents, orgs and payment ids. Prompts are
embedded for every request of an account's first `FULL` and every `STRIDE`-th after that (weighted by
`STRIDE`), so heavy accounts cost less text work per request.

`features(stats, prior)` gives, oriented so that larger is more like distillation:

| feature | what it measures |
|---|---|
| single_shot | share of requests that carry no earlier conversation (harvesters send one-off prompts) |
| coverage | log of the effective number of topic clusters the prompts spread over (breadth) |
| novelty | share of prompts the account had not sent before (coverage keeps growing; re-runs do not) |
| output | mean log2 completion tokens (how much answer text each request harvests) |
| reasoning | share of requests asking for step-by-step reasoning |
| distribution | share asking for log-probabilities or several samples |
| volume | log of requests per active day (per member, for a pooled group): reported, not scored |

Volume (like timing regularity and template reuse) is not scored: honest enterprise traffic (benchmark
runs, labelling, support bots) is as heavy as any campaign, so it separates nothing, and as one more
direction in which an honest account can be extreme it only widens the honest frontier.

Shares and means are shrunk towards the honest reference's average with `PSEUDO` pseudo-requests, so
a handful of requests cannot look extreme; coverage is biased low for small accounts (conservative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .behaviour import ASK_EVERY, ASK_FIRST, BehaviourState
from .embeddings import Lexical, PromptEmbedder
from .logs import Columns
from .record import request_fields
from .sketches import EMPTY_SIG, HLL_BITS, MINHASH, SEEDS, add_prompts, distinct, hll_ranks
from .text import DIM, Embedder, K, mix64

FEATURES = ("single_shot", "coverage", "novelty", "output", "reasoning", "distribution")
"""The scored features (volume is reported, not scored: see the module docstring)."""
COUNTS = ("n", "single", "cot", "distribution", "out_n", "out_sum", "embedded")
FULL, STRIDE = 128, 8
assert ASK_FIRST <= FULL and ASK_EVERY % STRIDE == 0  # behaviour's prompts are among the topics'
MAX_SET = 32
PSEUDO = 10.0


@dataclass
class AccountStats:
    """Everything kept about one account (or a pooled group of accounts)."""

    account: str
    embedder: Embedder | None = None
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0.0))
    topics: np.ndarray = field(default_factory=lambda: np.zeros(K, np.float64))
    hll: np.ndarray = field(default_factory=lambda: np.zeros(1 << HLL_BITS, np.uint8))
    skeletons: np.ndarray = field(default_factory=lambda: np.full(MINHASH, EMPTY_SIG, np.uint64))
    first_ts: float = math.inf
    last_ts: float = -math.inf
    days: set[int] = field(default_factory=set)
    hours: dict[int, int] = field(default_factory=dict)
    prefixes: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    orgs: set[str] = field(default_factory=set)
    payments: set[str] = field(default_factory=set)
    members: int = 1

    @property
    def n(self) -> int:
        return int(self.counts["n"])

    def update(self, record: dict[str, Any]) -> None:
        """Add one request (a validated log record): constant work, independent of history. The same
        state as `StatsTable.update` gives for the same requests."""
        if self.embedder is None:
            raise ValueError("AccountStats.update needs an embedder")
        f = request_fields(record)
        c = self.counts
        ordinal = int(c["n"])
        c["n"] += 1
        c["single"] += not f["conversational"]
        c["cot"] += f["cot"]
        c["distribution"] += f["distribution"]
        tokens = f["completion_tokens"]
        if not math.isnan(tokens):
            c["out_n"] += 1
            c["out_sum"] += float(np.log2(1 + max(tokens, 0.0)))
        ts = f["ts"]
        self.first_ts, self.last_ts = min(self.first_ts, ts), max(self.last_ts, ts)
        hour = math.floor(ts / 3600)
        self.hours[hour] = self.hours.get(hour, 0) + 1
        self.days.add(hour // 24)
        for name, key in (
            ("prefixes", "prefix"),
            ("agents", "user_agent"),
            ("orgs", "org"),
            ("payments", "payment_id"),
        ):
            values = getattr(self, name)
            if f[key] is not None and len(values) < MAX_SET:
                values.add(f[key])
        if ordinal < FULL or ordinal % STRIDE == 0:
            vector, content, skeleton = self.embedder.embed_one(f["text"])
            cluster = int(self.embedder.cluster(vector[None, :])[0])
            self.topics[cluster] += 1.0 if ordinal < FULL else float(STRIDE)
            c["embedded"] += 1
            register, rank = hll_ranks(np.array([content], np.uint64))
            self.hll[register[0]] = max(self.hll[register[0]], rank[0])
            self.skeletons = np.minimum(self.skeletons, mix64(np.uint64(skeleton) ^ SEEDS))

    def merge(self, other: AccountStats) -> None:
        """Pool another account's traffic into this one (a linked campaign is judged as one)."""
        for name in COUNTS:
            self.counts[name] += other.counts[name]
        self.topics = self.topics + other.topics
        self.hll = np.maximum(self.hll, other.hll)
        self.skeletons = np.minimum(self.skeletons, other.skeletons)
        self.first_ts, self.last_ts = min(self.first_ts, other.first_ts), max(self.last_ts, other.last_ts)
        self.days |= other.days
        for hour, count in other.hours.items():
            self.hours[hour] = self.hours.get(hour, 0) + count
        for name in ("prefixes", "agents", "orgs", "payments"):
            getattr(self, name).update(getattr(other, name))
        self.members += other.members


def raw_features(
    counts: dict[str, np.ndarray], topics: np.ndarray, hll: np.ndarray, active_days: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray] | np.ndarray]:
    """Per row: (events, trials) for the shrunk features, plain values for the others."""
    total = topics.sum(axis=1, keepdims=True)
    p = np.divide(topics, total, out=np.zeros_like(topics), where=total > 0)
    entropy = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=1)
    embedded = counts["embedded"]
    novel = np.minimum(distinct(hll), embedded) if hll.shape[1] else np.zeros_like(embedded)
    return {
        "single_shot": (counts["single"], counts["n"]),
        "coverage": entropy,
        "novelty": (novel, embedded),
        "output": (counts["out_sum"], counts["out_n"]),
        "reasoning": (counts["cot"], counts["n"]),
        "distribution": (counts["distribution"], counts["n"]),
        "volume": np.log(
            np.maximum(counts["n"], 1) / np.maximum(counts["members"], 1) / np.maximum(active_days, 1)
        ),
    }


def shrink(raw: dict[str, Any], prior: dict[str, float]) -> np.ndarray:
    """Feature matrix (rows x FEATURES): ratios shrunk towards `prior` with PSEUDO pseudo-requests."""
    columns = []
    for name in FEATURES:
        value = raw[name]
        if isinstance(value, tuple):
            events, trials = value
            value = (events + PSEUDO * prior.get(name, 0.0)) / (trials + PSEUDO)
        columns.append(np.asarray(value, np.float64))
    return np.stack(columns, axis=1)


def prior_of(raw: dict[str, Any]) -> dict[str, float]:
    """The average of each ratio feature over rows (accounts): the shrinkage target."""
    prior = {}
    for name, value in raw.items():
        if isinstance(value, tuple):
            events, trials = value
            ok = trials > 0
            prior[name] = float(np.mean(events[ok] / trials[ok])) if ok.any() else 0.0
    return prior


class StatsTable:
    """Columnar per-account state for many accounts, updated a batch at a time. `prompts` embeds what
    accounts ask for behavioural linking (`behaviour.py`; default: the lexical `embedder`)."""

    def __init__(self, embedder: Embedder | None, prompts: PromptEmbedder | None = None):
        self.embedder = embedder
        if prompts is None and embedder is not None:
            prompts = Lexical(embedder)
        self.behaviour = (
            BehaviourState(prompts, embedder) if prompts is not None and embedder is not None else None
        )
        self.index: dict[str, int] = {}
        self.names: list[str] = []
        self._capacity = 0
        self.counts = {name: np.zeros(0) for name in COUNTS}
        self.topics = np.zeros((0, K))
        self.hll = np.zeros((0, 1 << HLL_BITS), np.uint8)
        self.skeletons = np.zeros((0, MINHASH), np.uint64)
        self.first_ts, self.last_ts = np.zeros(0), np.zeros(0)
        self.members = np.zeros(0)
        self.days: list[set[int]] = []
        self.hours: list[dict[int, int]] = []
        self.meta: dict[str, list[set[str]]] = {"prefixes": [], "agents": [], "orgs": [], "payments": []}

    def __len__(self) -> int:
        return len(self.names)

    # ---- rows ---------------------------------------------------------------------------------------
    def _row(self, name: str) -> int:
        row = self.index.get(name)
        if row is None:
            row = self.index[name] = len(self.names)
            self.names.append(name)
            if row >= self._capacity:
                self._grow(max(16, 2 * self._capacity))
            self.first_ts[row], self.last_ts[row] = math.inf, -math.inf
            self.members[row] = 1
            self.skeletons[row] = EMPTY_SIG
            self.days.append(set())
            self.hours.append({})
            for sets in self.meta.values():
                sets.append(set())
        return row

    def _grow(self, capacity: int) -> None:
        def grow(a: np.ndarray) -> np.ndarray:
            out = np.zeros((capacity,) + a.shape[1:], a.dtype)
            out[: len(a)] = a
            return out

        self.counts = {k: grow(v) for k, v in self.counts.items()}
        self.topics, self.hll, self.skeletons = grow(self.topics), grow(self.hll), grow(self.skeletons)
        self.first_ts, self.last_ts, self.members = (
            grow(self.first_ts),
            grow(self.last_ts),
            grow(self.members),
        )
        if self.behaviour is not None:
            self.behaviour.grow(capacity)
        self._capacity = capacity

    def stats(self, name: str) -> AccountStats:
        """A copy of one account's state."""
        row = self.index[name]
        return AccountStats(
            name,
            self.embedder,
            {k: float(v[row]) for k, v in self.counts.items()},
            self.topics[row].copy(),
            self.hll[row].copy(),
            self.skeletons[row].copy(),
            float(self.first_ts[row]),
            float(self.last_ts[row]),
            set(self.days[row]),
            dict(self.hours[row]),
            set(self.meta["prefixes"][row]),
            set(self.meta["agents"][row]),
            set(self.meta["orgs"][row]),
            set(self.meta["payments"][row]),
            int(self.members[row]),
        )

    def adopt(self, stats: AccountStats) -> None:
        """Load one account's state (the live path updates a single account through this table)."""
        row = self._row(stats.account)
        for k in COUNTS:
            self.counts[k][row] = stats.counts[k]
        self.topics[row], self.hll[row], self.skeletons[row] = stats.topics, stats.hll, stats.skeletons
        self.first_ts[row], self.last_ts[row] = stats.first_ts, stats.last_ts
        self.members[row] = stats.members
        self.days[row], self.hours[row] = stats.days, stats.hours
        for name in self.meta:
            self.meta[name][row] = getattr(stats, name)

    def subset(self, rows: np.ndarray) -> StatsTable:
        """A new table holding these rows' accounts (behaviour included), in this order."""
        rows = np.asarray(rows, np.int64)
        out = StatsTable(self.embedder, self.behaviour.prompts if self.behaviour is not None else None)
        for row in rows.tolist():
            out.adopt(self.stats(self.names[row]))
        if self.behaviour is not None and out.behaviour is not None:
            out.behaviour.copy_rows(self.behaviour, rows)
        return out

    def raw(self) -> dict[str, Any]:
        n = len(self.names)
        counts = {k: v[:n] for k, v in self.counts.items()}
        counts["members"] = self.members[:n]
        days = np.fromiter((len(d) for d in self.days), np.float64, n)
        return raw_features(counts, self.topics[:n], self.hll[:n], days)

    # ---- a batch ------------------------------------------------------------------------------------
    def update(self, columns: Columns) -> np.ndarray:
        """Add a batch of requests; returns each request's account row."""
        encoded = columns.account.dictionary_encode()
        rows = np.fromiter((self._row(name) for name in encoded.dictionary.to_pylist()), np.int64)
        acc = rows[np.asarray(encoded.indices)]
        size = self._capacity

        def add(name: str, weights: np.ndarray | None = None) -> None:
            self.counts[name] += np.bincount(acc, weights, minlength=size)

        seen = self.counts["n"][acc].copy()
        order = np.argsort(acc, kind="stable")
        sorted_acc = acc[order]
        starts = np.flatnonzero(np.r_[True, sorted_acc[1:] != sorted_acc[:-1]])
        rank = np.empty(len(acc), np.int64)
        rank[order] = np.arange(len(acc)) - np.repeat(starts, np.diff(np.r_[starts, len(acc)]))
        ordinal = seen + rank

        add("n")
        add("single", (~columns.conversational).astype(np.float64))
        add("cot", columns.cot.astype(np.float64))
        add("distribution", columns.distribution.astype(np.float64))
        known = ~np.isnan(columns.completion_tokens)
        add("out_n", known.astype(np.float64))
        add(
            "out_sum",
            np.where(known, np.log2(1 + np.nan_to_num(np.maximum(columns.completion_tokens, 0))), 0.0),
        )
        np.minimum.at(self.first_ts, acc, columns.ts)
        np.maximum.at(self.last_ts, acc, columns.ts)

        chosen = np.flatnonzero((ordinal < FULL) | (ordinal % STRIDE == 0))
        weight = np.where(ordinal[chosen] < FULL, 1.0, float(STRIDE))
        vectors = self._text(
            acc[chosen],
            weight,
            pc.take(columns.text, pa.array(chosen)) if len(chosen) < len(acc) else columns.text,
        )
        self._time(acc, columns.ts)
        for name, values in (
            ("prefixes", columns.prefix),
            ("agents", columns.user_agent),
            ("orgs", columns.org),
            ("payments", columns.payment_id),
        ):
            self._meta(self.meta[name], acc, values)
        if self.behaviour is not None:
            # Lexical prompt embeddings from this table's embedder are the vectors just made for the
            # topics (every prompt behaviour samples is among them): no second pass over the text.
            prompts = self.behaviour.prompts
            reuse = isinstance(prompts, Lexical) and prompts.embedder is self.embedder
            self.behaviour.update(acc, ordinal, columns, (chosen, vectors) if reuse else None)
        return acc

    def _text(self, acc: np.ndarray, weight: np.ndarray, text: pa.Array) -> np.ndarray:
        """Fold the chosen prompts into topics, distinct prompts and skeletons; returns their lexical
        embeddings."""
        if not len(acc):
            return np.zeros((0, DIM), np.float32)
        if self.embedder is None:
            raise ValueError("StatsTable.update needs an embedder")
        which, vectors, content, skeleton = self.embedder.embed_distinct(text)
        clusters = self.embedder.cluster(vectors)[which]
        self.topics += np.bincount(acc * K + clusters, weight, minlength=self._capacity * K).reshape(-1, K)
        self.counts["embedded"] += np.bincount(acc, minlength=self._capacity)
        add_prompts(self.hll, self.skeletons, acc, which, content, skeleton)
        return vectors[which]

    def _time(self, acc: np.ndarray, ts: np.ndarray) -> None:
        hours = np.floor(ts / 3600).astype(np.int64)
        keys, counts = np.unique(acc * (1 << 32) + hours, return_counts=True)
        for key, count in zip(keys.tolist(), counts.tolist()):
            row, hour = divmod(key, 1 << 32)
            bucket = self.hours[row]
            bucket[hour] = bucket.get(hour, 0) + count
            self.days[row].add(hour // 24)

    @staticmethod
    def _meta(sets: list[set[str]], acc: np.ndarray, values: pa.Array) -> None:
        encoded = values.dictionary_encode()
        valid = np.asarray(pc.is_valid(encoded.indices))
        if not valid.any():
            return
        codes = np.asarray(pc.fill_null(encoded.indices, 0), np.int64)
        names = encoded.dictionary.to_pylist()
        keys = np.unique(acc[valid] * (len(names) + 1) + codes[valid])
        for key in keys.tolist():
            row, code = divmod(key, len(names) + 1)
            if len(sets[row]) < MAX_SET:
                sets[row].add(names[code])


def table_of(stats: list[AccountStats], embedder: Embedder | None) -> StatsTable:
    """A table holding these accounts' (or pooled groups') states, for vectorised scoring."""
    table = StatsTable(embedder)
    for s in stats:
        table.adopt(s)
    return table
