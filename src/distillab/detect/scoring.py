"""Calibrated scores: how unusual is an account (or a linked group) next to honest accounts?

1. Each feature gets an empirical tail p-value against the honest reference accounts:
   p_j = (1 + #{reference >= x_j}) / (1 + N).
2. They are combined Fisher-style into one score, S = -sum_j log p_j.
3. The score gets a p-value against the reference accounts' own scores: the conformal rank
   p = (1 + #{reference S >= S}) / (1 + N), valid for an honest account exchangeable with the reference
   (P(p <= a) <= a). Ranks cannot go below 1 / (N + 1), which with many accounts tested leaves
   Benjamini-Hochberg nothing to reject; so beyond the highest reference score the p-value comes from
   an exponential tail (the generalised Pareto with shape 0) over the reference median u, its scale
   read off the body's quantiles, (q90 - u) / ln 5, so that a few extreme (attacking) reference
   accounts cannot stretch it: p = (N_above_u / (N + 1)) exp(-(S - u) / scale). The calibration tests
   check on honest traffic that this holds.
4. Across everything tested (accounts and linked groups), Benjamini-Hochberg keeps the expected share
   of false flags among the flags at most `fdr`.

The reference should be honest traffic (`--reference`, e.g. a clean past period). Without one, the
log's own accounts are the reference: attackers in it only make honest accounts' p-values larger
(conservative), but many similar attackers can mask each other, which the pooled group test offsets.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from distillab.detect.features import FEATURES

WORDS = {
    "cot_share": ("asks for step-by-step reasoning in {v:.0%} of requests", "{m:.0%}"),
    "logprob_share": ("asks for token log-probabilities in {v:.0%} of requests", "{m:.0%}"),
    "multi_sample_share": ("asks for several samples (n > 1) in {v:.0%} of requests", "{m:.0%}"),
    "answer_budget": ("asks for long answers (mean max_tokens {e:.0f})", "{em:.0f}"),
    "single_shot_share": ("{v:.0%} of requests are one-off prompts, not conversations", "{m:.0%}"),
    "template_reuse": ("reuses prompt templates ({v:.0%} of prompts repeat a skeleton)", "{m:.0%}"),
    "breadth": ("covers an unusually broad vocabulary (breadth {v:.1f})", "{m:.1f}"),
    "regularity": ("sends requests at unusually even intervals (regularity {v:.2f})", "{m:.2f}"),
    "volume": ("sends many requests per active day ({e:.0f})", "{em:.0f}"),
}


MIN_FOR_TAIL = 50
"""Smaller references give rank p-values only."""


@dataclass(frozen=True)
class Scored:
    score: float
    p_value: float
    feature_p: dict[str, float]


class Reference:
    """Sorted honest feature values and scores, for tail p-values."""

    def __init__(self, features: Sequence[dict[str, float]]):
        if not features:
            raise ValueError("an empty reference")
        self.n = len(features)
        self.values = {f: sorted(row[f] for row in features) for f in FEATURES}
        self.medians = {f: v[len(v) // 2] for f, v in self.values.items()}
        self.scores = sorted(self._score(row) for row in features)
        # Tail fit from quantiles of the body: for exponential excesses over the median u,
        # q90 - q50 = scale * ln 5. A few extreme accounts (attackers) in the reference do not move it.
        if self.n >= MIN_FOR_TAIL:
            self.tail_from = self.scores[int(0.5 * (self.n - 1))]
            q90 = self.scores[int(0.9 * (self.n - 1))]
            self.tail_scale = max((q90 - self.tail_from) / math.log(5), 1e-6)
            self.tail_n = sum(1 for x in self.scores if x >= self.tail_from)
        else:
            self.tail_from, self.tail_scale, self.tail_n = math.inf, 1.0, 0

    def _tail(self, feature: str, x: float) -> float:
        values = self.values[feature]
        at_least = len(values) - bisect_left(values, x - 1e-12)
        return (1 + at_least) / (1 + self.n)

    def _score(self, row: dict[str, float]) -> float:
        return -sum(math.log(self._tail(f, row[f])) for f in FEATURES)

    def score(self, row: dict[str, float], *, in_reference: bool = False) -> Scored:
        """Score ``row``; ``in_reference``: the row is one of the reference accounts, which is then left
        out of the comparison (an account is never its own evidence of being ordinary)."""
        feature_p = {f: self._tail(f, row[f]) for f in FEATURES}
        s = -sum(math.log(p) for p in feature_p.values())
        others = self.scores
        if in_reference:
            at = bisect_left(others, s - 1e-9)
            others = others[:at] + others[at + 1:] if at < len(others) else others[:-1]
        n = len(others)
        p = (1 + n - bisect_left(others, s - 1e-9)) / (1 + n)
        if others and s > others[-1] and self.tail_n:  # beyond every other reference account: extrapolate
            p = min(p, self.tail_n / (1 + n) * math.exp(-(s - self.tail_from) / self.tail_scale))
        return Scored(s, min(1.0, p), feature_p)

    def reasons(self, row: dict[str, float], scored: Scored, top: int = 3) -> list[str]:
        """The most unusual features, in words, next to the honest median."""
        out = []
        for feature, p in sorted(scored.feature_p.items(), key=lambda kv: kv[1])[:top]:
            if p > 0.05:
                break
            text, median = WORDS[feature]
            v, m = row[feature], self.medians[feature]
            fill = {"v": v, "m": m, "e": math.expm1(v), "em": math.expm1(m)}
            out.append(f"{text.format(**fill)}; honest median {median.format(**fill)} (p = {p:.2g})")
        return out


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q-values), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return q
