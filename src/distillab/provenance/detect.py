"""Detecting the watermark in token sequences: count green tokens over distinct pairs, exact binomial p-value.

    result = detect([ids_1, ids_2], Watermark(config, derive(master)))   # -> TestResult
    result.p_value, result.effect["z"], result.effect["z_no_dedup"]

Every position with a full context window is a (window, token) pair. Pairs are scored once each: a
repeated phrase repeats its pairs, and counting them again would add copies of one coin flip, not new
evidence (a text repeating one green pair 1,000 times is 1,000 "green tokens" to a naive z-score). Once
deduplicated, each pair of a text written without the key is green with probability gamma
independently, so the number of green pairs is exactly Binomial(pairs, gamma) and P(X >= green) is an
exact p-value. Several texts are pooled: the union of their distinct pairs is scored once.

The z-score over every position without deduplication (Kirchenbauer et al.'s original statistic) is
reported beside it for comparison with other implementations; it is not a valid p-value on repetitive text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from distillab.provenance.config import WatermarkConfig
from distillab.provenance.evidence import TestResult
from distillab.provenance.stats import binomial_log10_pvalue, binomial_pvalue, z_score

REACH_LEVELS = (1e-3, 1e-5)
"""p-value levels whose first crossing a binomial result reports (`pairs_to_reach`)."""


class Scorer(Protocol):
    """What counting needs from a watermark (a `Watermark`, or a reference implementation in tests)."""

    config: WatermarkConfig

    def hashes(self, windows: np.ndarray, tokens: np.ndarray) -> np.ndarray: ...

    def green(self, hashes: np.ndarray) -> np.ndarray: ...


@dataclass
class Tally:
    """Green counts of one key over some pairs."""

    scored: int
    """Distinct pairs scored (after deduplication and exclusions)."""
    green: int
    scored_all: int
    """Every position with a full window, repeats included (no deduplication, no exclusions)."""
    green_all: int
    excluded: int = 0
    """Positions skipped because their pair was excluded (e.g. it occurs in the text the suspect read)."""
    in_order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    """Colours of the distinct pairs in the order they were first met (for p-value curves)."""

    def curve(self, gamma: float) -> tuple[np.ndarray, np.ndarray]:
        """(pairs scored so far, p-value so far) after each distinct pair, in the order met."""
        scored = np.arange(1, len(self.in_order) + 1)
        return scored, np.asarray(binomial_pvalue(np.cumsum(self.in_order), scored, gamma))

    def pairs_to_reach(self, gamma: float, levels: Sequence[float] = REACH_LEVELS) -> dict[str, int | None]:
        """For each p-value level, the distinct pairs scored (in the order met) before the p-value first
        fell below it; None where it never did. How much text the evidence needed, and how much margin
        the rest adds."""
        scored, p = self.curve(gamma)
        reached = {}
        for level in levels:
            hits = np.flatnonzero(p < level)
            reached[f"{level:g}"] = int(scored[hits[0]]) if len(hits) else None
        return reached


def as_sequences(token_ids: Sequence[int] | Sequence[Sequence[int]]) -> list[list[int]]:
    """One sequence or many, as a list of id lists."""
    if len(token_ids) and isinstance(token_ids[0], (int, np.integer)):
        return [[int(t) for t in token_ids]]  # type: ignore[arg-type]
    return [[int(t) for t in seq] for seq in token_ids]  # type: ignore[union-attr]


def pairs(sequences: Sequence[Sequence[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(windows [N, width], tokens [N]): every position of every sequence with `width` tokens before it."""
    windows, tokens = [], []
    for seq in sequences:
        ids = np.asarray(seq, dtype=np.int64)
        if len(ids) <= width:
            continue
        tokens.append(ids[width:])
        windows.append(
            np.lib.stride_tricks.sliding_window_view(ids[:-1], width)[: len(ids) - width]
            if width
            else np.zeros((len(ids), 0), dtype=np.int64)
        )
    if not tokens:
        return np.zeros((0, width), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(windows), np.concatenate(tokens)


def tally(
    mark: Scorer, windows: np.ndarray, tokens: np.ndarray, *, exclude: np.ndarray | None = None
) -> Tally:
    """Count green pairs: each distinct pair once (in the order met), skipping pairs whose hash is in
    `exclude`."""
    hashes = mark.hashes(windows, tokens)
    colours = np.asarray(mark.green(hashes), dtype=bool)
    keep = np.ones(len(hashes), dtype=bool) if exclude is None else ~np.isin(hashes, exclude)
    kept_hashes, kept_colours = hashes[keep], colours[keep]
    _, first = np.unique(kept_hashes, return_index=True)
    first.sort()
    in_order = kept_colours[first]
    return Tally(
        scored=len(first),
        green=int(in_order.sum()),
        scored_all=len(hashes),
        green_all=int(colours.sum()),
        excluded=int((~keep).sum()),
        in_order=in_order,
    )


def binomial_result(
    counts: Tally,
    mark: Scorer,
    *,
    name: str,
    question: str,
    null_hypothesis: str,
    method: str,
    assumptions: list[str],
    sample_sizes: dict[str, int] | None = None,
    details: dict[str, Any] | None = None,
) -> TestResult:
    """A TestResult for the exact binomial test of `counts` (the statistic is the green count)."""
    gamma = mark.config.gamma
    return TestResult(
        name=name,
        question=question,
        null_hypothesis=null_hypothesis,
        method=method,
        assumptions=assumptions,
        sample_sizes={
            "scored_pairs": counts.scored,
            "green_pairs": counts.green,
            "positions": counts.scored_all,
            "excluded_positions": counts.excluded,
            **(sample_sizes or {}),
        },
        statistic=float(counts.green),
        p_value=float(binomial_pvalue(counts.green, counts.scored, gamma)),
        effect={
            "green_fraction": counts.green / counts.scored if counts.scored else 0.0,
            "gamma": gamma,
            "z": z_score(counts.green, counts.scored, gamma),
            "log10_p": binomial_log10_pvalue(counts.green, counts.scored, gamma),
            "z_no_dedup": z_score(counts.green_all, counts.scored_all, gamma),
            "green_fraction_no_dedup": counts.green_all / counts.scored_all if counts.scored_all else 0.0,
        },
        details={
            "key_id": getattr(mark, "key_id", None),
            "account": getattr(mark, "account", None),
            "watermark": mark.config.as_dict(),
            "pairs_to_reach": counts.pairs_to_reach(gamma),
            **(details or {}),
        },
    )


def detect(token_ids: Sequence[int] | Sequence[Sequence[int]], mark: Scorer) -> TestResult:
    """Test whether token sequences carry `mark`'s watermark (several sequences are pooled)."""
    sequences = as_sequences(token_ids)
    windows, tokens = pairs(sequences, mark.config.width)
    counts = tally(mark, windows, tokens)
    key = getattr(mark, "key_id", "?")
    account = getattr(mark, "account", None)
    return binomial_result(
        counts,
        mark,
        name="watermark/detect",
        question=f"Was this text generated with watermark key {key}"
        + (f" (account {account})" if account else "")
        + "?",
        null_hypothesis="the text was written without knowledge of this key",
        method=(
            "Each distinct (context, token) pair of the text is green or not under the key; the number "
            f"of green pairs among the distinct pairs is compared with Binomial(pairs, gamma = "
            f"{mark.config.gamma:g}) by an exact one-sided test."
        ),
        assumptions=[
            "The text was tokenized with the tokenizer of the watermarked model.",
            (
                "The key was secret: text written without it is green on a distinct pair with "
                "probability gamma, independently of other pairs."
            ),
            (
                f"The watermark settings ({mark.config.scheme}, context {mark.config.context}, gamma "
                f"{mark.config.gamma:g}) are those the text would have been marked with."
            ),
        ],
        sample_sizes={"texts": len(sequences), "tokens": sum(len(s) for s in sequences)},
    )
