"""How each account behaves, beyond the scored features: what it asks, how it phrases and parameterises
its requests, and when it sends them. Behavioural linking (`linking.py`) compares accounts on this.

Kept per account, a batch at a time (`BehaviourState.update`, called by `StatsTable.update`), in fixed
size (about 2.5 KB per account with MiniLM, 1.5 KB lexical):

- what it asks: the sum of its prompts' sentence embeddings (`embeddings.py`: MiniLM or lexical), over
  its first `ASK_FIRST` prompts and every `ASK_EVERY`-th after;
- how it asks: counts of its request styles (`logs.Columns.style`: sampling parameters, system prompt,
  chat or completions), hashed into `STYLE_BINS` bins;
- how it phrases: counts of the same prompts' first and last two words, hashed into `PHRASE_BINS` bins;
- when: the mean and spread of log seconds between its consecutive requests; and the sampled prompts'
  length;
- its first `SAMPLE` prompts themselves, as their rarest words (`WORDS` IDF-weighted word buckets of the
  lexical embedder) and text hashes, for the cross-account paraphrase test (`paraphrase.py`).

The hour-of-day profile comes from `StatsTable.hours`. A pooled group (`AccountStats`) and the one
request at a time path carry none of this: linking reads the batch table, where every account's
requests arrive.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .embeddings import PromptEmbedder
from .logs import Columns
from .text import Embedder

ASK_FIRST, ASK_EVERY = 16, 64
"""An account's prompts that are embedded: its first ASK_FIRST, then every ASK_EVERY-th (each distinct
prompt once per process with MiniLM: its cache). Among the prompts the topic features embed
(`features.FULL`, `features.STRIDE`), so lexical vectors are reused from there."""
STYLE_BINS = 64
PHRASE_BINS = 128
"""Half for openings, half for endings."""
EDGE_CHARS = 60
"""Characters read from each end of a prompt for its opening and ending words."""
HEAD = r"^[^a-z]*(?P<w>[a-z]+(?:[^a-z]+[a-z]+)?)"
TAIL = r"(?P<w>[a-z]+(?:[^a-z]+[a-z]+)?)[^a-z]*$"
SCALARS = ("gap_n", "gap_sum", "gap_sq", "length_sum")
SAMPLE = 16
"""An account's first prompts kept one by one (rarest words and hash: under 1 KB per account)."""
WORDS = 8
MIN_IDF = 4.0
"""Words in more than about 1 in 20 reference prompts (IDF ln(20) + 1) are not kept: a frame's or a
template's words, not what a question is about."""
assert SAMPLE <= ASK_FIRST  # the kept prompts are among those embedded


class BehaviourState:
    """Columnar behaviour state for the rows of a `StatsTable` (same row numbers)."""

    def __init__(self, prompts: PromptEmbedder, words: Embedder):
        self.prompts = prompts
        self.words = words
        """The lexical embedder whose IDF picks the kept prompts' rarest words."""
        self.ask = np.zeros((0, prompts.dim), np.float32)
        """Sum of the embedded prompts' unit vectors."""
        self.asked = np.zeros(0)
        self.style = np.zeros((0, STYLE_BINS), np.float32)
        self.phrasing = np.zeros((0, PHRASE_BINS), np.float32)
        self.scalars = {name: np.zeros(0) for name in SCALARS}
        self.last_seen = np.zeros(0)
        self.sample = np.zeros((0, SAMPLE, WORDS), np.int32)
        """Each account's first SAMPLE prompts' rarest word buckets (-1: none)."""
        self.sample_hash = np.zeros((0, SAMPLE), np.uint64)
        """Their texts' hashes (exact repeats are not paraphrases)."""

    def grow(self, capacity: int) -> None:
        def grow(a: np.ndarray, fill: float = 0.0) -> np.ndarray:
            out = np.full((capacity,) + a.shape[1:], -1 if a.dtype == np.int32 else fill, a.dtype)
            out[: len(a)] = a
            return out

        self.ask, self.asked = grow(self.ask), grow(self.asked)
        self.style, self.phrasing = grow(self.style), grow(self.phrasing)
        self.scalars = {k: grow(v) for k, v in self.scalars.items()}
        self.last_seen = grow(self.last_seen, np.nan)
        self.sample, self.sample_hash = grow(self.sample), grow(self.sample_hash)

    def copy_rows(self, other: BehaviourState, rows: np.ndarray) -> None:
        """Take `other`'s rows `rows` as this state's first rows (`StatsTable.subset`)."""
        n = len(rows)
        self.ask[:n], self.asked[:n] = other.ask[rows], other.asked[rows]
        self.style[:n], self.phrasing[:n] = other.style[rows], other.phrasing[rows]
        for name, values in self.scalars.items():
            values[:n] = other.scalars[name][rows]
        self.last_seen[:n] = other.last_seen[rows]
        self.sample[:n], self.sample_hash[:n] = other.sample[rows], other.sample_hash[rows]

    def update(
        self,
        acc: np.ndarray,
        ordinal: np.ndarray,
        columns: Columns,
        embedded: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Add a batch: `acc` each request's row, `ordinal` its number among its account's requests;
        `embedded`: (rows, their vectors) already made by this state's prompt embedder, a superset of
        the rows it samples."""
        size = len(self.asked)
        asked = np.flatnonzero((ordinal < ASK_FIRST) | (ordinal % ASK_EVERY == 0))
        if len(asked):
            texts = pc.take(columns.text, pa.array(asked)) if len(asked) < len(acc) else columns.text
            if embedded is not None:
                rows, made = embedded
                vectors = made[np.searchsorted(rows, asked)]
            else:
                vectors = self.prompts.embed(texts)
            np.add.at(self.ask, acc[asked], vectors)
            kept = np.flatnonzero(ordinal[asked] < SAMPLE)
            if len(kept):
                rows, slots = acc[asked[kept]], ordinal[asked[kept]].astype(np.int64)
                for row, slot, text in zip(rows, slots, pc.take(texts, pa.array(kept)).to_pylist()):
                    found = self.words.rare_words(text or "", WORDS, MIN_IDF)
                    self.sample[row, slot, : len(found)] = found
                    self.sample_hash[row, slot] = zlib.crc32((text or "").encode()) + 1
            self.asked += np.bincount(acc[asked], minlength=size)
            self.phrasing += _phrase_counts(acc[asked], texts, size)
            lengths = np.log2(1.0 + np.asarray(pc.utf8_length(texts), np.float64))
            self.scalars["length_sum"] += np.bincount(acc[asked], lengths, minlength=size)
        bins = (columns.style % np.uint64(STYLE_BINS)).astype(np.int64)
        self.style += np.bincount(acc * STYLE_BINS + bins, minlength=size * STYLE_BINS).reshape(size, -1)
        self._gaps(acc, columns.ts, size)

    def _gaps(self, acc: np.ndarray, ts: np.ndarray, size: int) -> None:
        order = np.lexsort((ts, acc))
        a, t = acc[order], ts[order]
        previous = np.r_[np.nan, t[:-1]]
        first = np.r_[True, a[1:] != a[:-1]]
        previous[first] = self.last_seen[a[first]]
        gap = t - previous
        known = ~np.isnan(gap)
        logged = np.log1p(np.maximum(gap[known], 0.0))
        self.scalars["gap_n"] += np.bincount(a[known], minlength=size)
        self.scalars["gap_sum"] += np.bincount(a[known], logged, minlength=size)
        self.scalars["gap_sq"] += np.bincount(a[known], logged**2, minlength=size)
        last = np.r_[a[1:] != a[:-1], True]
        self.last_seen[a[last]] = t[last]


def _phrase_counts(acc: np.ndarray, text: pa.Array, size: int) -> np.ndarray:
    """Per row: counts of the prompts' opening and ending word pairs, hashed into PHRASE_BINS bins."""
    out = np.zeros(size * PHRASE_BINS, np.float64)
    half = PHRASE_BINS // 2
    for offset, pattern, piece in (
        (0, HEAD, pc.utf8_slice_codeunits(text, 0, EDGE_CHARS)),
        (half, TAIL, pc.utf8_slice_codeunits(text, -EDGE_CHARS)),
    ):
        words = pc.struct_field(pc.extract_regex(pc.ascii_lower(piece), pattern), "w")
        encoded = pc.replace_substring_regex(words, "[^a-z]+", " ").dictionary_encode()
        valid = np.asarray(pc.is_valid(encoded.indices))
        if not valid.any():
            continue
        bucket = np.array([zlib.crc32(w.encode()) % half for w in encoded.dictionary.to_pylist()], np.int64)
        codes = np.asarray(pc.fill_null(encoded.indices, 0), np.int64)
        out += np.bincount(acc[valid] * PHRASE_BINS + offset + bucket[codes[valid]], minlength=len(out))
    return out.reshape(size, PHRASE_BINS).astype(np.float32)
