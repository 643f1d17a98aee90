"""Accounts' kept prompts and how many of them have a paraphrase in another account's (`paraphrase.py`).

    log = Kept.of(table)                      # the kept prompts of the accounts that kept enough
    within = shares(log)                      # pairs' overlap within the log
    honest = shares(log, reference).max(1)    # each account's highest overlap with a reference account
    overlaps = Overlaps(reference)            # the same two, kept between scorings of a growing table
    within, honest = overlaps.of(table, log)

A pair's overlap depends only on the two accounts' kept prompts, and an account keeps its first
`behaviour.SAMPLE` prompts and then never changes them; the reference does not change at all. So a log
scored again and again as it grows (`distillab detect --checkpoint-hours`, the live detector) needs
its pairs' counts and its accounts' honest maxima again only for the accounts whose kept prompts changed
since the last scoring: `Overlaps` keeps them, keyed by each account's kept prompts, and gives exactly
what computing them afresh gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from .behaviour import SAMPLE, WORDS
from .features import StatsTable
from .text import BUCKETS, Embedder

JACCARD = 0.3
MIN_SHARED = 2
TEMPLATE = 0.2
"""Words in at least this share of an account's own kept prompts (and at least 2) are its template."""
MIN_PROMPTS = 5
"""Accounts with fewer kept prompts are not compared (a pair's share would be too coarse)."""
CELLS = 1 << 22
"""Slot x account cells tallied at a time (bytes of scratch)."""


@dataclass
class Kept:
    """The kept prompts of a table's accounts that have at least MIN_PROMPTS of them."""

    rows: np.ndarray
    """The accounts' rows in the table."""
    prompts: np.ndarray
    """How many prompts each kept."""
    owner: np.ndarray
    """Per kept prompt slot (SAMPLE per account): its account's position in `rows`."""
    hashes: np.ndarray
    weighted: csr_matrix
    """Slots x word buckets: the IDF of each rare word a prompt holds, plus 1j (a product with `present`
    sums the shared words' IDF in its real part and counts them in its imaginary part, exactly)."""
    present: csr_matrix
    """The same pattern, 1 per word."""
    total: np.ndarray
    """Per slot: the sum of its words' IDF."""

    @classmethod
    def of(cls, table: StatsTable, rows: np.ndarray | None = None) -> Kept:
        """The kept prompts of `table` (of its `rows` only, when given)."""
        behaviour = table.behaviour
        if behaviour is None or table.embedder is None:
            raise ValueError("the table keeps no behaviour (made without an embedder)")
        n = len(table)
        candidates = np.arange(n) if rows is None else np.asarray(rows, np.int64)
        kept = np.count_nonzero(behaviour.sample_hash[candidates], axis=1)
        rows = candidates[kept >= MIN_PROMPTS]
        kept = kept[kept >= MIN_PROMPTS]
        m = len(rows)
        words = behaviour.sample[rows].reshape(m * SAMPLE, behaviour.sample.shape[-1])
        hashes = behaviour.sample_hash[rows].reshape(-1)
        owner = np.repeat(np.arange(m), SAMPLE)
        prompt, slot = np.nonzero((words >= 0) & (hashes != 0)[:, None])
        bucket = words[prompt, slot].astype(np.int64)
        key = owner[prompt] * BUCKETS + bucket
        _, inverse, repeats = np.unique(key, return_inverse=True, return_counts=True)
        own = repeats[inverse.reshape(-1)] >= np.maximum(TEMPLATE * kept[owner[prompt]], 2)
        prompt, bucket = prompt[~own], bucket[~own]
        idf = np.asarray(table.embedder.idf, np.float64)[bucket]
        shape = (m * SAMPLE, BUCKETS)
        weighted = csr_matrix((idf, (prompt, bucket)), shape=shape)
        present = csr_matrix((np.ones(len(bucket)), (prompt, bucket)), shape=shape)
        total = np.asarray(weighted.sum(axis=1)).ravel()
        weighted = weighted.astype(np.complex128)
        weighted.data += 1j
        return cls(rows, kept, owner, hashes, weighted, present, total)

    def __len__(self) -> int:
        return len(self.rows)


def _paraphrased(a: Kept, b: Kept) -> csr_matrix:
    """Slots of `a` x slots of `b`: 1 where the two prompts are paraphrases (a table with itself leaves
    each account's own prompts out). The test is symmetric, so one product serves both ways."""
    shared = (a.weighted @ b.present.T).tocsr()  # per pair of slots sharing a word: IDF + 1j per word
    at = np.flatnonzero(shared.data.imag >= MIN_SHARED)  # most prompts sharing a rare word share only one
    i = np.searchsorted(shared.indptr, at, side="right") - 1
    j, both = shared.indices[at], shared.data.real[at]
    similar = (both >= JACCARD * (a.total[i] + b.total[j] - both)) & (a.hashes[i] != b.hashes[j])
    if a is b:
        similar &= a.owner[i] != b.owner[j]
    i, j = i[similar], j[similar]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=shared.shape[0]))])
    return csr_matrix((np.ones(len(j), np.int8), j, indptr), shape=shared.shape)


def _tally(pairs: csr_matrix, other: np.ndarray, width: int) -> np.ndarray:
    """counts[x, y]: how many of account x's slots (rows of `pairs`, SAMPLE per account) have a
    paraphrase among account y's (`other`: the account of each column's slot), in blocks of accounts."""
    rows = pairs.shape[0] // SAMPLE
    out = np.zeros((rows, width), np.int64)
    step = max(1, CELLS // (SAMPLE * max(width, 1)))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        block = pairs[start * SAMPLE : stop * SAMPLE]
        seen = np.zeros(((stop - start) * SAMPLE, width), bool)
        seen[np.repeat(np.arange(block.shape[0]), np.diff(block.indptr)), other[block.indices]] = True
        out[start:stop] = seen.reshape(stop - start, SAMPLE, width).sum(axis=1)
    return out


def counts(a: Kept, b: Kept) -> tuple[np.ndarray, np.ndarray]:
    """counts[x, y]: how many of account x's kept prompts (in `a`) have a paraphrase among account y's
    (in `b`), len(a) x len(b); and the same from `b` to `a`, len(b) x len(a)."""
    pairs = _paraphrased(a, b)
    there = _tally(pairs, b.owner, len(b))
    return there, there if a is b else _tally(pairs.T.tocsr(), a.owner, len(a))


def shares(a: Kept, b: Kept | None = None) -> np.ndarray:
    """Per account of `a` and of `b` (default: `a` itself): the share of the two's kept prompts with a
    paraphrase in the other."""
    if b is None:
        return _within(counts(a, a)[0], a.prompts)
    there, back = counts(a, b)
    return (there + back.T) / (a.prompts[:, None] + b.prompts[None, :])


def _within(count: np.ndarray, prompts: np.ndarray) -> np.ndarray:
    out = (count + count.T) / (prompts[:, None] + prompts[None, :])
    np.fill_diagonal(out, 0.0)
    return out


def highest(log: Kept, reference: Kept) -> np.ndarray:
    """Each account of `log`'s highest overlap with an account of `reference` (0 with none)."""
    if not len(reference) or not len(log):
        return np.zeros(len(log))
    return shares(log, reference).max(axis=1)


class Overlaps:
    """A growing table's pairs' paraphrase counts and its accounts' highest overlap with an honest
    `reference` account, kept between scorings. Each is a function of the accounts' kept prompts alone
    (and the table's embedder, whose IDF weighs them), so an account's entries are made again only when
    its kept prompts differ from those they were made with."""

    def __init__(self, reference: Kept):
        self.reference = reference
        self._embedder: Embedder | None = None
        self._sample = np.zeros((0, SAMPLE, WORDS), np.int32)
        """Per table row: the kept prompts its entries were made with (valid where `_stored`)."""
        self._hashes = np.zeros((0, SAMPLE), np.uint64)
        self._stored = np.zeros(0, bool)
        self._counts = np.zeros((0, 0), np.int16)
        """counts(...)[x, y] between table rows x and y (at most SAMPLE), valid where both are stored."""
        self._honest = np.zeros(0)
        """Per stored row: its highest overlap with the reference; NaN where not made yet."""

    def of(self, table: StatsTable, log: Kept) -> tuple[np.ndarray, np.ndarray]:
        """`shares(log)` and, for each account in a pair with some overlap, `highest(log, reference)`
        (0 for the others: their pairs' contrast is 0 whatever it is), for `log = Kept.of(table)`."""
        behaviour = table.behaviour
        assert behaviour is not None
        rows = log.rows
        self._fit(table, len(table))
        if (self._stored & ~np.isin(np.arange(len(self._stored)), rows)).any():
            self._reset(len(table))  # not the table these were made on: accounts only ever join a log
        same = (self._sample[rows] == behaviour.sample[rows]).all(axis=(1, 2))
        same &= (self._hashes[rows] == behaviour.sample_hash[rows]).all(axis=1)
        changed = rows[~(same & self._stored[rows])]
        if len(changed):
            fresh = log if len(changed) == len(rows) else Kept.of(table, changed)
            assert np.array_equal(fresh.rows, changed)
            there, back = counts(fresh, log)
            self._counts[np.ix_(changed, rows)] = there
            self._counts[np.ix_(rows, changed)] = back
            self._honest[changed] = np.nan
            self._sample[changed] = behaviour.sample[changed]
            self._hashes[changed] = behaviour.sample_hash[changed]
            self._stored[changed] = True
        within = _within(self._counts[np.ix_(rows, rows)].astype(np.int64), log.prompts)
        needed = rows[within.any(axis=1)]
        missing = needed[np.isnan(self._honest[needed])]
        if len(missing):
            self._honest[missing] = highest(Kept.of(table, missing), self.reference)
        honest = np.zeros(len(rows))
        honest[within.any(axis=1)] = self._honest[needed]
        return within, honest

    def _fit(self, table: StatsTable, n: int) -> None:
        """Start afresh for another embedder; make room for `n` rows."""
        if table.embedder is not self._embedder:
            self._embedder = table.embedder
            self._reset(n)
        if n > len(self._stored):
            size = max(n, 2 * len(self._stored))
            old = len(self._stored)
            self._sample = np.concatenate([self._sample, np.zeros((size - old, SAMPLE, WORDS), np.int32)])
            self._hashes = np.concatenate([self._hashes, np.zeros((size - old, SAMPLE), np.uint64)])
            self._stored = np.concatenate([self._stored, np.zeros(size - old, bool)])
            self._honest = np.concatenate([self._honest, np.full(size - old, np.nan)])
            grown = np.zeros((size, size), np.int16)
            grown[:old, :old] = self._counts
            self._counts = grown

    def _reset(self, n: int) -> None:
        self._stored = np.zeros(n, bool)
        self._sample = np.zeros((n, SAMPLE, WORDS), np.int32)
        self._hashes = np.zeros((n, SAMPLE), np.uint64)
        self._honest = np.full(n, np.nan)
        self._counts = np.zeros((n, n), np.int16)
