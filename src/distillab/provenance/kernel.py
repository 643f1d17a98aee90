"""The string kernel of the attribution test: a Hamming kernel on the first L characters of completions.

Model Equality Testing (Gao, Liang & Guestrin 2024) compares completions with a Hamming kernel: the
share of positions where two sequences, cut or padded to a fixed length L, agree. We apply it to
characters (Unicode code points) rather than tokens, because a distilled suspect need not share its
teacher's tokenizer, and an API may not say which tokens it produced.

    codes = encode(["12 + 7 = 19", "12 + 7 = 18"], length=16)   # int32 [2, 16], padding = -1
    hamming_gram(codes, codes)                                     # [[1, .9375], [.9375, 1]]

k(y, y') = (1/L) * #{i < L : y_i == y'_i}, where positions past a completion's end hold a padding
symbol that matches only padding (so length is part of what is compared). The kernel is the inner
product of one-hot encodings of the L positions, divided by L, so every Gram matrix is symmetric
positive semi-definite with ones on the diagonal and entries in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PAD = -1


def encode(texts: Sequence[str], length: int) -> np.ndarray:
    """Code points of the first ``length`` characters of each text, padded with ``PAD``: int32 [N, length]."""
    if length < 1:
        raise ValueError(f"kernel length must be at least 1 (got {length})")
    codes = np.full((len(texts), length), PAD, dtype=np.int32)
    for row, text in enumerate(texts):
        cut = text[:length]
        if cut:
            codes[row, : len(cut)] = np.frombuffer(cut.encode("utf-32-le"), dtype=np.uint32)
    return codes


def hamming_gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """k(a_i, b_j) for every pair: float64 [Na, Nb], from encoded rows a [Na, L] and b [Nb, L]."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"encoded lengths differ: {a.shape[1]} vs {b.shape[1]}")
    equal = a[:, None, :] == b[None, :, :]
    return np.asarray(equal.mean(axis=2, dtype=np.float64))
