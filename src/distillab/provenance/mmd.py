"""Two-sample tests on completions to the same prompts: MMD equality (permutation) and relative closeness.

Samples are grouped by prompt: ``{prompt_id: [completion, ...]}`` per model. The kernel on (prompt,
completion) pairs is MET's: ``1[p == p'] * k(y, y')`` with the character Hamming kernel of
`distillab.provenance.kernel`, so only completions of the same prompt are ever compared.

**Equality** (Model Equality Testing, Gao, Liang & Guestrin 2024). H0: for every prompt, X's completions
have the same distribution as Y's. Statistic: the unbiased MMD^2 estimate (Gretton et al. 2012) of each
prompt, averaged over prompts (prompts weigh equally; this is the joint MMD^2 under a uniform prompt
distribution, times the number of prompts). p-value: Monte Carlo permutation test. Under H0 the X/Y
labels of one prompt's completions are exchangeable, so each of B permutations shuffles the labels
within every prompt independently, and ``p = (1 + #{T_b >= T}) / (1 + B)``. Counting the observed
labelling among the permutations makes the test exact at every level for any B (P(p <= a) <= a), and p
is never 0.

**Closeness** (is S closer to A than to B?). Per prompt, ``d = MMD^2(S, B) - MMD^2(S, A)`` from unbiased
estimates (the S-S term cancels). H0: the mean of d over the prompts is <= 0. Samples of different
prompts are independent, so the d's are independent and a one-sided t-test over prompts applies; it
is asymptotic (normal approximation over prompts) and conservative when prompts differ in their mean d.
A permutation of the A/B labels would only test "A and B are the same model", which is not this null:
when A and B differ, an S equally far from both would be flagged too often.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from distillab.errors import DataError
from distillab.provenance.kernel import encode, hamming_gram

Samples = Mapping[str, Sequence[str]]
"""Completions grouped by prompt id."""
MIN_SAMPLES = 2
"""Completions per prompt each model needs: an unbiased MMD^2 compares distinct samples of one model."""


@dataclass(frozen=True)
class EqualityOutcome:
    """The MMD equality test's numbers."""

    mmd2: float
    """Observed statistic: unbiased MMD^2, averaged over prompts (0 when the models agree)."""
    p_value: float
    null_mean: float
    """Mean of the statistic over the permutations (what chance alone gives)."""
    null_sd: float
    permutations: int
    prompts: int
    x_samples: int
    y_samples: int
    dropped_prompts: int
    """Prompts left out because one model had fewer than MIN_SAMPLES completions for them."""

    @property
    def z(self) -> float:
        """Standardized effect: how many permutation standard deviations the statistic sits above chance."""
        return (self.mmd2 - self.null_mean) / self.null_sd if self.null_sd > 0 else 0.0


@dataclass(frozen=True)
class ClosenessOutcome:
    """The closeness test's numbers."""

    t: float
    p_value: float
    mean_difference: float
    """Mean over prompts of MMD^2(S, B) - MMD^2(S, A): positive when S is closer to A."""
    sd_difference: float
    mmd2_to_a: float
    mmd2_to_b: float
    prompts: int
    samples: dict[str, int]
    dropped_prompts: int

    @property
    def standardized(self) -> float:
        """mean / sd of the per-prompt differences (Cohen's d over prompts)."""
        return self.mean_difference / self.sd_difference if self.sd_difference > 0 else 0.0


def shared_prompts(*models: Samples) -> tuple[list[str], int]:
    """Prompt ids where every model has at least MIN_SAMPLES completions, and how many prompts were not."""
    every = set().union(*(m.keys() for m in models))
    kept = sorted(p for p in every if all(len(m.get(p, ())) >= MIN_SAMPLES for m in models))
    return kept, len(every) - len(kept)


def _encode(texts: Sequence[str], length: int) -> np.ndarray:
    """One prompt's completions, compared over at most ``length`` characters and no further than the
    longest of them: padding every completion of a short-answer prompt to 200 characters would only
    shrink the effect sizes. The cut depends on the pooled completions, not on which model wrote them,
    so permutations stay valid."""
    return encode(texts, min(length, max([1, *(len(t) for t in texts)])))


def _labelled_mmd2(gram: np.ndarray, in_x: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Unbiased MMD^2 of one prompt under each labelling: in_x bool [B, n] marks X's nx samples per row.

    ``gram`` [n, n] is the pooled Gram matrix with its diagonal zeroed, so every sum runs over distinct
    pairs. With s the X indicator: XX = s'Ks, XY = s'K1 - XX, YY = 1'K1 - XX - 2 XY.
    """
    s = in_x.astype(np.float64)
    xx = ((s @ gram) * s).sum(axis=1)
    rows = gram.sum(axis=1)
    xy = s @ rows - xx
    yy = rows.sum() - xx - 2 * xy
    return np.asarray(xx / (nx * (nx - 1)) + yy / (ny * (ny - 1)) - 2 * xy / (nx * ny))


def equality_test(
    x: Samples, y: Samples, *, length: int = 200, permutations: int = 1000, seed: int = 0
) -> EqualityOutcome:
    """MMD permutation test of H0: X and Y give every prompt the same completion distribution."""
    if permutations < 1:
        raise ValueError(f"permutations must be at least 1 (got {permutations})")
    prompts, dropped = shared_prompts(x, y)
    if not prompts:
        raise DataError(
            f"no prompt has at least {MIN_SAMPLES} completions from both models; "
            "the test compares completions of the same prompt"
        )
    rng = np.random.default_rng(seed)
    observed = 0.0
    null = np.zeros(permutations)
    for prompt in prompts:
        nx, ny = len(x[prompt]), len(y[prompt])
        codes = _encode([*x[prompt], *y[prompt]], length)
        gram = hamming_gram(codes, codes)
        np.fill_diagonal(gram, 0.0)
        first = np.arange(nx + ny) < nx
        observed += float(_labelled_mmd2(gram, first[None, :], nx, ny)[0])
        null += _labelled_mmd2(gram, rng.permuted(np.tile(first, (permutations, 1)), axis=1), nx, ny)
    observed /= len(prompts)
    null /= len(prompts)
    # Ties count against the evidence; a relative tolerance keeps float noise from breaking exact ties.
    exceed = int(np.sum(null >= observed - 1e-12 * max(1.0, abs(observed))))
    return EqualityOutcome(
        mmd2=observed,
        p_value=(1 + exceed) / (1 + permutations),
        null_mean=float(null.mean()),
        null_sd=float(null.std(ddof=1)) if permutations > 1 else 0.0,
        permutations=permutations,
        prompts=len(prompts),
        x_samples=sum(len(x[p]) for p in prompts),
        y_samples=sum(len(y[p]) for p in prompts),
        dropped_prompts=dropped,
    )


def _mean_offdiagonal(gram: np.ndarray) -> float:
    n = gram.shape[0]
    return float((gram.sum() - np.trace(gram)) / (n * (n - 1)))


def closeness_test(s: Samples, a: Samples, b: Samples, *, length: int = 200) -> ClosenessOutcome:
    """One-sided t-test over prompts of H0: S is on average no closer to A than to B (in MMD^2)."""
    prompts, dropped = shared_prompts(s, a, b)
    if len(prompts) < 2:
        raise DataError(
            f"{len(prompts)} prompts have at least {MIN_SAMPLES} completions from all three "
            "models; the closeness test needs at least 2 (and about 20 for a reliable p-value)"
        )
    to_a, to_b = np.zeros(len(prompts)), np.zeros(len(prompts))
    for i, prompt in enumerate(prompts):
        codes = _encode([*s[prompt], *a[prompt], *b[prompt]], length)
        gram = hamming_gram(codes, codes)
        ns, na = len(s[prompt]), len(a[prompt])
        S, A, B = slice(0, ns), slice(ns, ns + na), slice(ns + na, None)
        ss = _mean_offdiagonal(gram[S, S])
        to_a[i] = ss + _mean_offdiagonal(gram[A, A]) - 2 * float(gram[S, A].mean())
        to_b[i] = ss + _mean_offdiagonal(gram[B, B]) - 2 * float(gram[S, B].mean())
    diff = to_b - to_a
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    if sd > 0:
        t = mean / (sd / math.sqrt(len(prompts)))
        p = float(stats.t.sf(t, df=len(prompts) - 1))
    elif mean > 0:  # every prompt gave the same positive difference: no spread to judge chance by
        raise DataError(
            "every prompt gave exactly the same closeness difference, so its variability "
            "cannot be estimated; sample with temperature > 0 and use more prompts"
        )
    else:
        t, p = 0.0, 1.0
    counts = {name: sum(len(m[p]) for p in prompts) for name, m in (("suspect", s), ("a", a), ("b", b))}
    return ClosenessOutcome(
        t=t,
        p_value=p,
        mean_difference=mean,
        sd_difference=sd,
        mmd2_to_a=float(to_a.mean()),
        mmd2_to_b=float(to_b.mean()),
        prompts=len(prompts),
        samples=counts,
        dropped_prompts=dropped,
    )
