"""Prompt templates as keyed MinHash signatures: what a campaign's prompt generator looks like, without
its prompts.

A prompt's *template* is what stays when a generator fills in new contents: its lowercase words with
numbers masked (`#`) and quoted strings masked (`"`), read from its first and last `EDGE` words
(instructions sit at the start or the end of generated prompts; the item is in the middle). Its
shingles are those words and their adjacent pairs, tagged by end. Each shingle is hashed with
BLAKE2b keyed by the sharing key (a keyed PRF: without the key nobody can test a guessed prompt
against a signature), and a prompt's signature is the datasketch MinHash (`affine64` scheme,
`NUM_PERM` permutations from `SEED`) of those hashes, so the share of equal values of two signatures
estimates the Jaccard similarity of their shingle sets.

    signer = Signer(key)
    signature = signer.signature("Solve step by step: Grace buys 2 notebooks at $4 each ...")
    similarity(signature, other)                      # estimated Jaccard similarity
    index = TemplateIndex(threshold=0.5)
    index.add(signature); index.best(other)           # the closest indexed template at the threshold

`Signer.signature` equals `datasketch.MinHash(NUM_PERM, SEED, hashfunc=signer.hash, scheme="affine64")`
updated with `shingles(text)`; it is computed faster from a cache of each shingle's permuted hashes
(a few microseconds per prompt once its shingles have been seen). `TemplateIndex` is MinHash LSH
with the bands datasketch's `MinHashLSH` chooses for the threshold; it looks a signature up with one
slice per band instead of datasketch's per-band Python calls (about 15 instead of 100 microseconds
per query on the development machine), which matters when every request of a gateway is looked up.
"""

from __future__ import annotations

import hashlib
import re
from itertools import pairwise

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 64
SEED = 1
SCHEME = "affine64"
EDGE = 6
"""Words read from each end of a prompt."""
SPAN = 200
"""Characters read from each end of a long prompt (its first and last EDGE words are in them)."""
CACHE = 1 << 15
"""Shingles whose permuted hashes are kept (64 x 8 bytes each); the cache is emptied when full."""
TOKEN = re.compile(r'"[^"\n]{0,200}"|\u201c[^\u201d\n]{0,200}\u201d|`[^`\n]{0,200}`|\d+(?:[.,]\d+)*|[a-z]+')
"""A quoted string, a number or a word (in lowercase text)."""
_FMIX = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_PERMUTATIONS = MinHash(NUM_PERM, SEED, scheme=SCHEME).permutations
"""datasketch's affine permutations (a, b) for NUM_PERM and SEED."""


def mask(text: str) -> list[str]:
    """Lowercase words, with quoted strings masked as `"` and numbers as `#`."""
    return [
        t if "a" <= t[0] <= "z" else "#" if "0" <= t[0] <= "9" else '"' for t in TOKEN.findall(text.lower())
    ]


def ends(text: str) -> tuple[list[str], list[str]]:
    """The first and the last EDGE masked words (of a long prompt, read from its first and last SPAN
    characters only, so the work per prompt is bounded)."""
    if len(text) <= 2 * SPAN:
        words = mask(text)
        return words[:EDGE], words[-EDGE:]
    return mask(text[:SPAN])[:EDGE], mask(text[-SPAN:])[-EDGE:]


def shingles(text: str) -> set[str]:
    """Words and adjacent word pairs of the first and last EDGE masked words, tagged by end."""
    head, tail = ends(text)
    return {
        *["h:" + w for w in head],
        *["t:" + w for w in tail],
        *[f"h:{a} {b}" for a, b in pairwise(head)],
        *[f"t:{a} {b}" for a, b in pairwise(tail)],
    }


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (the share of equal values)."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


class Signer:
    """Keyed template signatures. Not thread-safe (its cache): one per thread."""

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("the sharing key must have at least 16 bytes")
        self.key = key
        self._rows: dict[str, int] = {}
        self._values = np.zeros((256, NUM_PERM), np.uint64)

    def hash(self, shingle: bytes) -> int:
        """The keyed 64-bit hash of one shingle (datasketch's `hashfunc`)."""
        return int.from_bytes(hashlib.blake2b(shingle, key=self.key, digest_size=8).digest(), "little")

    def signature(self, text: str) -> np.ndarray:
        """The template signature of one prompt (NUM_PERM uint64 values; all 2**64 - 1 for an empty one)."""
        found = shingles(text)
        if not found:
            return np.full(NUM_PERM, np.iinfo(np.uint64).max, np.uint64)
        try:
            rows = np.fromiter(map(self._rows.__getitem__, found), np.intp, len(found))
        except KeyError:
            if len(self._rows) + len(found) > CACHE:
                self._rows.clear()
            self._add([s for s in found if s not in self._rows])
            rows = np.fromiter(map(self._rows.__getitem__, found), np.intp, len(found))
        return np.minimum.reduce(self._values.take(rows, axis=0))

    def _add(self, new: list[str]) -> None:
        start = len(self._rows)
        while start + len(new) > len(self._values):
            self._values = np.concatenate([self._values, np.zeros_like(self._values)])
        hashed = np.fromiter((self.hash(s.encode()) for s in new), np.uint64, len(new))[:, None]
        shift, m1, m2 = _FMIX  # datasketch's MurmurHash3 finaliser, then its affine permutations
        a, b = _PERMUTATIONS
        with np.errstate(over="ignore"):
            hashed = (hashed ^ (hashed >> shift)) * m1
            hashed = (hashed ^ (hashed >> shift)) * m2
            hashed = hashed ^ (hashed >> shift)
            self._values[start : start + len(new)] = hashed * a + b
        for i, s in enumerate(new):
            self._rows[s] = start + i


class TemplateIndex:
    """MinHash LSH over template signatures: a signature's candidates share all values of at least one
    band with it (datasketch's choice of bands for the threshold); the best candidate at or above the
    threshold, by estimated Jaccard similarity, is the match."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.width = lsh.r * 8
        """Bytes per band."""
        self.tables: list[dict[bytes, list[int]]] = [{} for _ in range(lsh.b)]
        self.signatures: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.signatures)

    def add(self, signature: np.ndarray) -> int:
        """Index a signature; returns its number."""
        number = len(self.signatures)
        self.signatures.append(signature)
        raw = signature.tobytes()
        for band, table in enumerate(self.tables):
            table.setdefault(raw[band * self.width : (band + 1) * self.width], []).append(number)
        return number

    def candidates(self, signature: np.ndarray) -> set[int]:
        raw = signature.tobytes()
        found: set[int] = set()
        for band, table in enumerate(self.tables):
            hit = table.get(raw[band * self.width : (band + 1) * self.width])
            if hit:
                found.update(hit)
        return found

    def best(self, signature: np.ndarray) -> tuple[int, float] | None:
        """(number, similarity) of the most similar indexed signature at or above the threshold, or None."""
        best: tuple[int, float] | None = None
        for number in self.candidates(signature):
            score = similarity(signature, self.signatures[number])
            if score >= self.threshold and (best is None or score > best[1]):
                best = (number, score)
        return best
