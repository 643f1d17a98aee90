"""Lexical prompt embeddings and topic clusters: fast, deterministic, no model.

A prompt's words (lowercase ASCII letter runs of 2+ characters) are hashed into `BUCKETS` buckets; each
bucket has a fixed random direction in `DIM` dimensions (a random projection of a hashed bag of words),
weighted by the word's inverse document frequency. The unit-length sum is the prompt's embedding, and
its nearest of `K` topic centroids (spherical k-means on honest reference prompts) its topic cluster.

`Embedder.fit(texts)` learns the IDF weights and the centroids from a sample; `embed_one(text)` serves
one prompt (the live path) and `embed_tokens(...)` a whole batch (the offline path: whitespace tokens,
each distinct token processed once per batch). Both give the same result for the same text.

Per prompt we also keep two 64-bit hashes: `content` (all letter and digit runs, as a multiset: two
prompts with the same words and numbers are the same prompt) and `skeleton` (the letter words of the
first 6 and last 3 tokens: a prompt's template, with its numbers and middle left out).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import csr_matrix

WORD = re.compile(r"[a-z]{2,}")
ALNUM = re.compile(r"[a-z0-9]+")
WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|.)")
"""JSON escapes left in tokens read from JSON text (and backslash pairs in plain text): dropped."""
COT = re.compile(
    r"step[- ]by[- ]step|show (?:your|all|the|all the|each) (?:work|reasoning|steps|intermediate)|"
    r"explain (?:each|every|your) (?:step|reasoning)|think (?:it )?through|"
    r"reason(?:ing)? (?:carefully|step|before)|chain[- ]of[- ]thought|walk (?:me )?through|"
    r"think(?:ing)? (?:out loud|aloud)|number(?:ing)? each step|before (?:answering|giving the "
    r"(?:final )?answer)|your reasoning|work it out",
    re.IGNORECASE,
)
"""Requests for step-by-step reasoning (chain-of-thought elicitation)."""
BUCKETS = 1 << 16
DIM = 64
K = 64
KEEP = 64
"""Tokens kept from each end of a long prompt."""
HEAD, TAIL = 6, 3
"""Tokens that make a prompt's skeleton."""
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_M64 = (1 << 64) - 1


def ascii_lower(text: str) -> str:
    return text.translate(_LOWER)


def tokens(text: str) -> list[str]:
    """Lowercased, ASCII-whitespace-separated tokens (what the batch path gets from pyarrow)."""
    return [t for t in WHITESPACE.split(ascii_lower(text)) if t]


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads 32-bit hashes over 64 bits (numpy uint64, wrapping)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_SLOTS = mix64(np.arange(HEAD + TAIL, dtype=np.uint64))
"""`mix64` of each skeleton slot (a token's place among a prompt's first HEAD and last TAIL)."""


def _crc(word: str) -> int:
    return zlib.crc32(word.encode())


class Embedder:
    """Hashed bag-of-words random projection with IDF weights, plus topic centroids."""

    def __init__(self, idf: np.ndarray, centroids: np.ndarray, *, seed: int = 0):
        self.idf = idf.astype(np.float32)
        self.centroids = centroids.astype(np.float32)
        self.seed = seed
        self.directions = np.random.default_rng(seed).standard_normal((BUCKETS, DIM), dtype=np.float32)
        self._cache: dict[str, int] = {}
        self._vectors = np.zeros((1024, DIM), np.float32)
        self._hashes = np.zeros((1024, 2), np.uint64)
        """Per cached token: (content hash part, skeleton hash part)."""

    # ---- fitting ----------------------------------------------------------------------------------
    @classmethod
    def fit(cls, texts: Sequence[str], *, k: int = K, seed: int = 0, iterations: int = 12) -> Embedder:
        """IDF weights and `k` spherical k-means centroids from a sample of (honest) prompts."""
        plain = cls(np.ones(BUCKETS, np.float32), np.zeros((1, DIM), np.float32), seed=seed)
        unique, token_ids, row_of = split_tokens(pa.array(list(texts), pa.string()))
        buckets_of = [sorted({_crc(w) & (BUCKETS - 1) for w in WORD.findall(_clean(t))}) for t in unique]
        pairs = np.unique(row_of * len(unique) + token_ids) if len(token_ids) else np.zeros(0, np.int64)
        sizes = np.array([len(b) for b in buckets_of], np.int64)
        flat = np.array([b for bs in buckets_of for b in bs], np.int64)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])) if len(sizes) else sizes
        token = pairs % max(len(unique), 1)
        rows = np.repeat(pairs // max(len(unique), 1), sizes[token])
        within = np.arange(int(sizes[token].sum())) - np.repeat(
            np.cumsum(sizes[token]) - sizes[token], sizes[token]
        )
        bucket = flat[np.repeat(starts[token], sizes[token]) + within]
        df = np.bincount(np.unique(rows * BUCKETS + bucket) % BUCKETS, minlength=BUCKETS)
        plain.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        points, content, _ = plain.embed_texts(pa.array(list(texts), pa.string()))
        _, first = np.unique(content, return_index=True)  # each distinct prompt once
        points = points[first]
        plain.centroids = _spherical_kmeans(points[np.linalg.norm(points, axis=1) > 0], k, seed, iterations)
        return plain

    # ---- one prompt (live path) ------------------------------------------------------------------
    def embed_one(self, text: str) -> tuple[np.ndarray, int, int]:
        """(unit embedding, content hash, skeleton hash) of one prompt."""
        self._bound_cache()
        found = tokens(text)
        if len(found) > 2 * KEEP:
            found = found[:KEEP] + found[-KEEP:]
        rows = [self._token(t) for t in found]
        if not rows:
            return np.zeros(DIM, np.float32), 0, 0
        vector = self._vectors[rows].sum(axis=0)
        content = int(self._hashes[rows, 0].sum(dtype=np.uint64))
        n, total = len(rows), 0
        for position in [*range(min(HEAD, n)), *range(max(HEAD, n - TAIL), n)]:
            from_end = n - 1 - position
            slot = position if position < HEAD else HEAD + min(from_end, TAIL - 1)
            total = (total + _mix_int(int(self._hashes[rows[position], 1]) ^ _mix_int(slot))) & _M64
        skeleton = _mix_int(total)
        norm = float(np.linalg.norm(vector))
        return (vector / norm if norm > 0 else vector), content, skeleton

    def cluster(self, embeddings: np.ndarray) -> np.ndarray:
        """Index of the nearest topic centroid per row (0 for empty prompts)."""
        return np.asarray((embeddings @ self.centroids.T).argmax(axis=1), np.int64)

    # ---- a batch (offline path) ------------------------------------------------------------------
    def embed_texts(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embeddings, content and skeleton hashes of a batch of prompts (an Arrow string array)."""
        which, vectors, content, skeleton = self.embed_distinct(texts)
        return vectors[which], content[which], skeleton[which]

    def embed_distinct(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`embed_texts` of the batch's distinct prompts, each embedded once, and which of them each
        prompt is: (index per prompt, embeddings, content hashes, skeleton hashes). Logs repeat prompts
        (a benchmark's items, a campaign's re-sends, retries): half of a simulated log's are repeats."""
        encoded = pc.fill_null(texts, "").dictionary_encode()
        distinct = encoded.dictionary
        unique, token_ids, row_of = split_tokens(distinct)
        vectors, content, skeleton = self.embed_tokens(unique, token_ids, row_of, len(distinct))
        return np.asarray(encoded.indices, np.int64), vectors, content, skeleton

    def embed_tokens(
        self, unique: Sequence[str], token_ids: np.ndarray, row_of: np.ndarray, rows: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embeddings, content and skeleton hashes of `rows` prompts given as flat token lists.

        `unique` are the distinct tokens of the batch, `token_ids` index them, in prompt order, and
        `row_of` says which prompt each token belongs to (non-decreasing).
        """
        self._bound_cache()
        table = np.fromiter((self._token(t) for t in unique), np.int64, len(unique))
        cached = table[token_ids]
        counts = np.bincount(row_of, minlength=rows)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        counts_matrix = csr_matrix(
            (np.ones(len(token_ids), np.float32), token_ids, np.concatenate(([0], np.cumsum(counts)))),
            shape=(rows, max(len(unique), 1)),
        )
        vectors = np.asarray(
            counts_matrix @ self._vectors[table] if len(unique) else np.zeros((rows, DIM)), np.float32
        )
        content = np.zeros(rows, np.uint64)
        nonempty = counts > 0
        if cached.size:
            content[nonempty] = np.add.reduceat(self._hashes[cached, 0], starts[nonempty])
        skeleton = _skeleton_hash(self._hashes[cached, 1], row_of, starts, counts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors, content, skeleton

    def rare_words(self, text: str, count: int, min_idf: float) -> list[int]:
        """The buckets of the `count` rarest distinct words of `text` (highest IDF first), leaving out
        words at most `min_idf`: what a paraphrase keeps when it changes the frame around a question."""
        buckets = {_crc(w) & (BUCKETS - 1) for w in WORD.findall(_clean(ascii_lower(text)))}
        ranked = sorted((b for b in buckets if self.idf[b] > min_idf), key=lambda b: (-self.idf[b], b))
        return ranked[:count]

    def _bound_cache(self) -> None:
        if len(self._cache) >= 500_000:  # numbers and ids make the set of tokens unbounded
            self._cache.clear()

    def _token(self, token: str) -> int:
        row = self._cache.get(token)
        if row is not None:
            return row
        row = len(self._cache)
        if row >= len(self._vectors):
            self._vectors = np.concatenate([self._vectors, np.zeros_like(self._vectors)])
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        clean = _clean(token)
        words = WORD.findall(clean)
        if words:
            buckets = [_crc(w) & (BUCKETS - 1) for w in words]
            self._vectors[row] = self.idf[buckets] @ self.directions[buckets]
        else:
            self._vectors[row] = 0
        content = 0
        for part in ALNUM.findall(clean):
            content = (content + _mix_int(_crc(part))) & _M64
        self._hashes[row, 0] = content
        self._hashes[row, 1] = _mix_int(_crc(" ".join(words))) if words else 0
        self._cache[token] = row
        return row


def _clean(token: str) -> str:
    return ESCAPE.sub(" ", token) if "\\" in token else token


def _mix_int(x: int) -> int:
    """`mix64` on one Python int."""
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def split_tokens(texts: pa.Array) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(distinct tokens, token index per occurrence, row per occurrence) of a batch of prompts, keeping
    each prompt's first and last KEEP tokens (the same tokens `tokens` gives, cut the same way)."""
    split = pc.ascii_split_whitespace(pc.ascii_lower(pc.fill_null(texts, "")))
    offsets = np.asarray(split.offsets)
    lengths = np.diff(offsets)
    row_of = np.repeat(np.arange(len(texts)), lengths)
    position = np.arange(len(row_of)) - np.repeat(offsets[:-1] - offsets[0], lengths)
    keep = (position < KEEP) | (position >= np.repeat(lengths, lengths) - KEEP)
    flat = split.values[offsets[0] : offsets[-1]]
    if not keep.all():
        flat = flat.filter(pa.array(keep))
        row_of = row_of[keep]
    encoded = flat.dictionary_encode()
    return encoded.dictionary.to_pylist(), np.asarray(encoded.indices, np.int64), row_of


def _skeleton_hash(
    token_hashes: np.ndarray, row_of: np.ndarray, starts: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Per prompt: a hash of its first HEAD and last TAIL tokens' words, by position."""
    rows = len(counts)
    out = np.zeros(rows, np.uint64)
    if not token_hashes.size:
        return out
    position = np.arange(len(row_of)) - starts[row_of]
    from_end = counts[row_of] - 1 - position
    keep = np.flatnonzero((position < HEAD) | (from_end < TAIL))
    slot = np.where(position[keep] < HEAD, position[keep], HEAD + np.minimum(from_end[keep], TAIL - 1))
    salted = mix64(token_hashes[keep] ^ _SLOTS[slot])
    # Each prompt's kept tokens are adjacent (`row_of` is non-decreasing): one wrapping sum per run.
    kept_rows = row_of[keep]
    first = np.flatnonzero(np.r_[True, kept_rows[1:] != kept_rows[:-1]])
    out[kept_rows[first]] = np.add.reduceat(salted, first)
    return mix64(out)


def _spherical_kmeans(points: np.ndarray, k: int, seed: int, iterations: int) -> np.ndarray:
    if len(points) == 0:
        return np.eye(1, DIM, dtype=np.float32)
    rng = np.random.default_rng(seed)
    k = min(k, len(points))
    centroids = [points[rng.integers(len(points))]]
    closest = 1 - points @ centroids[0]
    for _ in range(1, k):  # k-means++: far points are likelier seeds
        weights = np.maximum(closest, 0) ** 2
        pick = (
            rng.choice(len(points), p=weights / weights.sum())
            if weights.sum() > 0
            else rng.integers(len(points))
        )
        centroids.append(points[pick])
        closest = np.minimum(closest, 1 - points @ points[pick])
    c = np.array(centroids, np.float32)
    for _ in range(iterations):
        assign = (points @ c.T).argmax(axis=1)
        sums = np.zeros_like(c)
        np.add.at(sums, assign, points)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        c = np.where(norms > 0, sums / np.maximum(norms, 1e-12), c)
    return c
