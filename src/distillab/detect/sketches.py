"""Per-account sketches over prompt hashes (`text.Embedder` gives both hashes of a prompt): a
HyperLogLog of its distinct prompts (content hashes) and a MinHash signature of its prompt skeletons
(a template's prompts share one). Both keep maxima or minima, so a prompt sent twice counts once and
two accounts' sketches pool exactly (`np.maximum`, `np.minimum`).

    hll = np.zeros((accounts, 1 << HLL_BITS), np.uint8)
    skeletons = np.full((accounts, MINHASH), EMPTY_SIG, np.uint64)
    add_prompts(hll, skeletons, acc, which, content, skeleton)   # account acc[i] sent prompt which[i]
    distinct(hll)                                                # estimated distinct prompts per row
"""

from __future__ import annotations

import numpy as np

from .text import mix64

HLL_BITS = 9
MINHASH = 64
SEEDS = np.random.default_rng(7).integers(1, 2**63, MINHASH, dtype=np.int64).astype(np.uint64)
"""One seed per MinHash slot: a skeleton's signature is `mix64(skeleton ^ SEEDS)`."""
EMPTY_SIG = np.iinfo(np.uint64).max
_POWERS = np.power(2.0, -np.arange(256, dtype=np.float64))
"""2 ** -rank for every register value (exact), read by `distinct` instead of computing powers."""


def hll_ranks(content: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HyperLogLog register and rank of each content hash. The rank (position of the first 1 bit) is
    read from the top 52 bits of the rest through `frexp`, which is exact in float64."""
    hashed = mix64(content)
    register = (hashed & np.uint64((1 << HLL_BITS) - 1)).astype(np.int64)
    rest = (hashed >> np.uint64(HLL_BITS + 3)).astype(np.float64)
    return register, (53 - np.frexp(rest)[1]).astype(np.uint8)


def distinct(hll: np.ndarray) -> np.ndarray:
    """HyperLogLog estimate of distinct items per row of registers (linear counting when small)."""
    hll = np.atleast_2d(hll)
    m = hll.shape[1]
    raw = (0.7213 / (1 + 1.079 / m)) * m * m / np.sum(_POWERS[hll], axis=1)
    zeros = np.sum(hll == 0, axis=1)
    small = (raw <= 2.5 * m) & (zeros > 0)
    return np.where(small, m * np.log(m / np.maximum(zeros, 1)), raw)


def add_prompts(
    hll: np.ndarray,
    skeletons: np.ndarray,
    acc: np.ndarray,
    which: np.ndarray,
    content: np.ndarray,
    skeleton: np.ndarray,
) -> None:
    """Fold a batch into the rows' sketches, in place: account `acc[i]` sent distinct prompt `which[i]`,
    whose hashes are `content[which[i]]` and `skeleton[which[i]]`. Each account's distinct prompts (and
    distinct skeletons) are folded once."""
    pairs = np.unique(acc * len(content) + which)
    owner, prompt = pairs // len(content), pairs % len(content)
    register, rank = hll_ranks(content)
    np.maximum.at(hll, (owner, register[prompt]), rank[prompt])
    shapes, shape_of = np.unique(skeleton, return_inverse=True)
    pairs = np.unique(acc * len(shapes) + shape_of.reshape(-1)[which])
    owner, shape = pairs // len(shapes), pairs % len(shapes)
    signatures = mix64(shapes[:, None] ^ SEEDS[None, :])
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    mins = np.minimum.reduceat(signatures[shape], starts, axis=0)
    owners = owner[starts]
    skeletons[owners] = np.minimum(skeletons[owners], mins)
