"""The keyed green-list watermark: which tokens are green after a context, and the bias that favours them.

    mark = Watermark(WatermarkConfig(gamma=0.25, delta=2.0), derive(master_key))
    logits = mark.apply(logits, previous_ids)            # [V] or [B, V]; adds delta to green tokens

How a token's colour is decided (scheme "lefthash", Kirchenbauer et al. 2023): the `context` tokens
before it are hashed with the key into a seed, and token t is green when a keyed hash of (seed, t) falls
below gamma * 2^64. Every (seed, token) pair gets its own pseudo-random draw, so without the key each
distinct pair is green with probability gamma, independently of every other distinct pair: that is what
makes the detector's binomial p-value exact (it scores each distinct pair once). KGW draws a random
permutation per context instead; the colours of one context's tokens then are not independent (exactly
gamma * V of them are green), and the permutation costs O(V log V) per context, where this costs O(V).

Scheme "selfhash" (Kirchenbauer et al. 2023, "On the reliability of watermarks"): the seed of candidate t
is the minimum, over the previous `context - 1` tokens and t itself, of a keyed hash of (that token, t)
("anchored min-hash"); an edit to a context token changes the colour only when it held the minimum.

The hash is a keyed 64-bit mixer (the splitmix64 finaliser), vectorised with numpy: a green mask over a
150k vocabulary takes about a millisecond on CPU, and masks are cached per context. It is not a MAC: it
keeps colours unpredictable without the key, but, as with every green-list watermark, someone who sees
many marked outputs can estimate green lists statistically ("watermark stealing").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from distillab.provenance.config import WatermarkConfig
from distillab.provenance.keys import derive, key_id, subkeys

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
MASK_CACHE_BYTES = 16 << 20
"""Memory for cached green masks per key (about 110 contexts at a 150k vocabulary, 4096 at most)."""


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays: a bijection whose output bits all depend on every
    input bit."""
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


class Watermark:
    """One key's watermark: green lists, the bias, and the per-pair hash the detector counts."""

    def __init__(self, config: WatermarkConfig, key: bytes, *, account: str | None = None):
        self.config = config
        self.key_id = key_id(key)
        self.account = account
        k = [np.uint64(v) for v in subkeys(key, 6)]
        self._seed0, self._ctx, self._cand, self._pair_a, self._pair_b, self._final = k
        self._threshold = np.uint64(min(int(config.gamma * 2.0**64), 2**64 - 1))
        self._masks: OrderedDict[tuple[object, ...], torch.Tensor] = OrderedDict()
        self._vocab_hashes: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    @property
    def width(self) -> int:
        """Tokens before a token that decide its colour."""
        return self.config.width

    # -- colours of given (context, token) pairs: what detection counts -------------------------------

    def hashes(self, windows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The keyed hash of each (window, token) pair: uint64 [N] for windows [N, width] and tokens [N].

        Equal hashes mean the same pseudo-random draw (up to 2^-64 collisions), so the detector counts each
        distinct hash once; `green(hashes)` gives the colours.
        """
        tokens = np.asarray(tokens, dtype=np.uint64)
        windows = np.asarray(windows, dtype=np.uint64).reshape(len(tokens), self.width)
        if self.config.scheme == "lefthash":
            seeds = self._left_seeds(windows)
        else:
            pairs = [self._pair(windows[:, j], tokens) for j in range(self.width)]
            seeds = np.minimum.reduce([self._pair(tokens, tokens), *pairs])
        return self._draw(seeds, tokens)

    def green(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean colours of hashes from `hashes`: green with probability gamma for any text without the
        key."""
        return np.asarray(hashes) < self._threshold

    # -- green masks over the vocabulary: what serving adds delta to ----------------------------------

    def green_mask(self, context: Sequence[int], vocab_size: int) -> np.ndarray:
        """bool [vocab_size]: which tokens are green after `context` (only its last `width` tokens matter).

        Shorter contexts than `width` have no green list: the mask is all False (nothing is marked there,
        as in KGW, and detection does not score those positions).
        """
        if len(context) < self.width:
            return np.zeros(vocab_size, dtype=bool)
        window = np.asarray(context[len(context) - self.width :], dtype=np.uint64)
        token_draw, token_pair, self_pair = self._vocab(vocab_size)
        if self.config.scheme == "lefthash":
            seeds = self._left_seeds(window[None, :])
        else:
            pairs = [mix64(mix64(np.full(1, w, dtype=np.uint64) ^ self._pair_a) + token_pair) for w in window]
            seeds = np.minimum.reduce([self_pair, *pairs])
        return self.green(mix64(mix64(seeds ^ token_draw) ^ self._final))

    def bias(
        self, context: Sequence[int], vocab_size: int, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """float32 [vocab_size] on `device`: delta on the green tokens after `context`, 0 elsewhere
        (cached)."""
        window = tuple(int(t) for t in context[max(0, len(context) - self.width) :]) if self.width else ()
        key = (window, vocab_size, str(device))
        cached = self._masks.get(key)
        if cached is not None:
            self._masks.move_to_end(key)
            return cached
        mask = torch.from_numpy(self.green_mask(window, vocab_size)).to(device)
        bias = mask.to(torch.float32) * self.config.delta
        self._masks[key] = bias
        if len(self._masks) > max(1, min(4096, MASK_CACHE_BYTES // (4 * vocab_size))):
            self._masks.popitem(last=False)
        return bias

    def apply(self, logits: torch.Tensor, previous: Sequence[int] | Sequence[Sequence[int]]) -> torch.Tensor:
        """Watermarked logits: `logits` [V] (with `previous` the ids before it) or [B, V] (one id list
        per row).

        Returns a new float tensor; logits or log-probabilities both work (softmax ignores the shift).
        """
        rows = logits.reshape(-1, logits.shape[-1]).float()
        contexts = [previous] if logits.dim() == 1 else previous
        if len(contexts) != rows.shape[0]:
            raise ValueError(f"got {len(contexts)} contexts for {rows.shape[0]} rows of logits")
        bias = torch.stack([self.bias(list(c), rows.shape[-1], rows.device) for c in contexts])  # type: ignore[arg-type]
        return (rows + bias).reshape(logits.shape)

    # -- the keyed hash ---------------------------------------------------------------------------------

    def _left_seeds(self, windows: np.ndarray) -> np.ndarray:
        seeds = np.full(windows.shape[0], self._seed0, dtype=np.uint64)
        for j in range(windows.shape[1]):
            seeds = mix64(seeds ^ mix64(windows[:, j] ^ self._ctx))
        return seeds

    def _vocab(self, vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-token parts of the hash over the whole vocabulary, computed once per key."""
        if self._vocab_hashes is None or self._vocab_hashes[0] != vocab_size:
            tokens = np.arange(vocab_size, dtype=np.uint64)
            self_pair = self._pair(tokens, tokens) if self.config.scheme == "selfhash" else tokens
            self._vocab_hashes = (
                vocab_size,
                (mix64(tokens ^ self._cand), mix64(tokens ^ self._pair_b), self_pair),
            )
        return self._vocab_hashes[1]

    def _pair(self, anchors: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """selfhash: keyed hash of (context token, candidate) pairs."""
        return mix64(mix64(anchors ^ self._pair_a) + mix64(tokens ^ self._pair_b))

    def _draw(self, seeds: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        return mix64(mix64(seeds ^ mix64(tokens ^ self._cand)) ^ self._final)


class Watermarker:
    """What a server marks with: one config and master key; one derived key per account when `per_account`.

    Without `per_account` (or for requests that name no account) the default key `derive(master)` marks.
    """

    def __init__(
        self,
        config: WatermarkConfig,
        master_key: bytes,
        *,
        per_account: bool = False,
        cache_accounts: int = 32,
    ):
        self.config = config
        self.per_account = per_account
        self._master = master_key
        self._cache_accounts = cache_accounts
        self._marks: OrderedDict[str | None, Watermark] = OrderedDict()
        self.default_key_id = key_id(derive(master_key))

    def for_account(self, account: str | None) -> Watermark:
        name = account if self.per_account else None
        mark = self._marks.get(name)
        if mark is None:
            mark = Watermark(self.config, derive(self._master, name), account=name)
            self._marks[name] = mark
            if len(self._marks) > self._cache_accounts:
                self._marks.popitem(last=False)
        else:
            self._marks.move_to_end(name)
        return mark

    def describe(self) -> str:
        per = (
            "one key per account (header x-distillab-account)"
            if self.per_account
            else f"key id {self.default_key_id}"
        )
        return f"watermarking every sampled token: {self.config.describe()}; {per}"
