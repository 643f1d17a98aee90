"""Exact tests for green-token counts, and a multiple-testing correction for several keys."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp
from scipy.stats import binom

P_FLOOR = sys.float_info.min
"""Smallest p-value reported (2.2e-308): below it floats underflow to 0, and a p-value of 0 is never true.
Rounding up is conservative; `binomial_log10_pvalue` gives the exact magnitude."""


def binomial_pvalue(green: int | np.ndarray, scored: int | np.ndarray, gamma: float) -> float | np.ndarray:
    """P(X >= green) for X ~ Binomial(scored, gamma): the exact one-sided p-value (1.0 when nothing
    was scored).

    Vectorised over arrays of counts (for p-value curves); exact down to ~1e-300, where the normal
    approximation behind a z-score is off by orders of magnitude in the tail.
    """
    p = binom.sf(np.asarray(green) - 1, scored, gamma)
    p = np.where(np.asarray(scored) > 0, np.maximum(p, P_FLOOR), 1.0)
    return float(p) if np.ndim(p) == 0 else p


def binomial_log10_pvalue(green: int, scored: int, gamma: float) -> float:
    """log10 P(X >= green), exact even where the p-value itself underflows (summed in log space)."""
    if scored == 0 or green <= 0:
        return 0.0
    if green > scored:
        return -math.inf
    terms = binom.logpmf(np.arange(green, scored + 1), scored, gamma)
    return float(min(0.0, logsumexp(terms) / math.log(10)))


def z_score(green: int, scored: int, gamma: float) -> float:
    """KGW's z = (green - gamma * T) / sqrt(T * gamma * (1 - gamma)); 0.0 when nothing was scored."""
    if scored == 0:
        return 0.0
    return (green - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: reject key k at level alpha when adjusted p_k < alpha.

    Controls the chance of flagging any innocent key (family-wise error) under any dependence between
    the tests; its smallest adjusted p-value is the Bonferroni p-value of "some key leaked".
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
