"""The attribution statistics on synthetic samplers: kernel properties, exact permutation p-values,
calibration under the null (uniform p-values over many seeds) and power against clear differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from distillab.errors import DataError
from distillab.provenance.kernel import PAD, encode, hamming_gram
from distillab.provenance.mmd import _labelled_mmd2, closeness_test, equality_test

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


def draw(probs: np.ndarray, m: int, rng: np.random.Generator) -> dict[str, list[str]]:
    """m completions per prompt; prompt i's completions are categorical over WORDS with probs[i]."""
    cumulative = np.cumsum(probs, axis=1)
    picks = (rng.random((len(probs), m, 1)) > cumulative[:, None, :-1]).sum(axis=2)
    return {f"p{i}": [WORDS[j] for j in row] for i, row in enumerate(picks)}


def at_most_expected(count: int, n: int, alpha: float) -> bool:
    """count rejections of n is within what a level-alpha test allows (one-sided binomial, 0.1% error)."""
    return count <= stats.binom.ppf(0.999, n, alpha)


def test_hamming_kernel_by_hand() -> None:
    codes = encode(["ab", "abc", "xbc", ""], length=4)
    assert codes.dtype == np.int32 and codes.shape == (4, 4)
    assert codes[0].tolist() == [ord("a"), ord("b"), PAD, PAD]
    gram = hamming_gram(codes, codes)
    expected = (
        np.array(
            [
                [4, 3, 2, 2],  # ab__ vs abc_: a, b, _ agree; vs xbc_: b, _; vs ____: the 2 pads
                [3, 4, 3, 1],
                [2, 3, 4, 1],
                [2, 1, 1, 4],
            ]
        )
        / 4
    )
    np.testing.assert_allclose(gram, expected)
    # Characters, not bytes:
    assert encode(["é🙂xyz"], length=3)[0].tolist() == [ord("é"), ord("🙂"), ord("x")]


def test_gram_matrices_are_symmetric_psd_with_unit_diagonal() -> None:
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("ab c"), size=rng.integers(0, 12))) for _ in range(60)]
    gram = hamming_gram(encode(texts, 10), encode(texts, 10))
    np.testing.assert_array_equal(gram, gram.T)
    assert np.all(np.diag(gram) == 1.0) and gram.min() >= 0.0
    assert np.linalg.eigvalsh(gram).min() > -1e-10


def test_labelled_statistic_matches_the_textbook_unbiased_mmd() -> None:
    rng = np.random.default_rng(1)
    texts = ["".join(rng.choice(list("abc"), size=5)) for _ in range(9)]
    gram = hamming_gram(encode(texts, 5), encode(texts, 5))
    in_x = np.zeros((1, 9), dtype=bool)
    in_x[0, [0, 3, 4, 7]] = True
    x, y = np.flatnonzero(in_x[0]), np.flatnonzero(~in_x[0])
    xx = sum(gram[i, j] for i in x for j in x if i != j) / (len(x) * (len(x) - 1))
    yy = sum(gram[i, j] for i in y for j in y if i != j) / (len(y) * (len(y) - 1))
    xy = sum(gram[i, j] for i in x for j in y) / (len(x) * len(y))
    zeroed = gram.copy()
    np.fill_diagonal(zeroed, 0.0)
    assert _labelled_mmd2(zeroed, in_x, len(x), len(y))[0] == pytest.approx(xx + yy - 2 * xy)


def test_permutation_p_value_is_never_zero_and_on_its_grid() -> None:
    # 10 + 10 completions have 184,756 labellings; only the observed one and its mirror separate them.
    # (A random permutation may draw one of those two, about once in 1,000 seeds: then p = 2/100.)
    separated = equality_test({"p": ["aaaa"] * 10}, {"p": ["zzzz"] * 10}, permutations=99, seed=1)
    assert separated.p_value == pytest.approx(1 / 100)  # the smallest a 99-permutation test can give
    assert separated.mmd2 == pytest.approx(2.0) and separated.z > 3  # over the 4 characters there are
    same = equality_test({"p": ["aaaa"] * 5}, {"p": ["aaaa"] * 5}, permutations=99)
    assert same.p_value == 1.0 and same.mmd2 == 0.0  # every permutation ties: ties count against the evidence
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(len(WORDS)), size=4)
    p = equality_test(draw(probs, 4, rng), draw(probs, 4, rng), permutations=49, seed=3).p_value
    assert round(p * 50) == pytest.approx(p * 50) and 0 < p <= 1


def test_permutation_test_is_exact_even_with_few_permutations() -> None:
    # With B = 19 the test rejects at 0.05 only when the observed labelling beats all 19 permutations:
    # exchangeable under H0, so that happens with probability <= 1/20, however small B is.
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(len(WORDS)) * 0.5, size=3)
    n = 600
    rejected = sum(
        equality_test(draw(probs, 3, rng), draw(probs, 3, rng), permutations=19, seed=s).p_value <= 0.05
        for s in range(n)
    )
    assert at_most_expected(rejected, n, 0.05)


def test_equality_test_is_calibrated_under_the_null() -> None:
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(len(WORDS)), size=8)
    ps = np.array(
        [
            equality_test(draw(probs, 5, rng), draw(probs, 5, rng), permutations=199, seed=s).p_value
            for s in range(400)
        ]
    )
    assert stats.kstest(ps, "uniform").pvalue > 1e-3
    assert at_most_expected(int(np.sum(ps <= 0.05)), len(ps), 0.05)
    assert at_most_expected(int(np.sum(ps <= 0.01)), len(ps), 0.01)


def test_equality_test_rejects_clearly_different_distributions() -> None:
    rng = np.random.default_rng(6)
    a = rng.dirichlet(np.ones(len(WORDS)), size=8)
    b = rng.dirichlet(np.ones(len(WORDS)), size=8)
    ps = [
        equality_test(draw(a, 10, rng), draw(b, 10, rng), permutations=199, seed=s).p_value for s in range(20)
    ]
    assert np.mean(np.array(ps) <= 0.05) >= 0.9


def test_closeness_test_is_calibrated_when_the_references_are_the_same_model() -> None:
    rng = np.random.default_rng(7)
    ref, suspect = rng.dirichlet(np.ones(len(WORDS)), size=(2, 20))
    ps = np.array(
        [
            closeness_test(draw(suspect, 4, rng), draw(ref, 4, rng), draw(ref, 4, rng)).p_value
            for _ in range(400)
        ]
    )
    assert stats.kstest(ps, "uniform").pvalue > 1e-3
    assert at_most_expected(int(np.sum(ps <= 0.05)), len(ps), 0.05)


def test_closeness_test_holds_its_level_for_a_suspect_halfway_between_different_references() -> None:
    # A != B and the suspect is their even mixture: exactly as close to both (in MMD), the hardest null.
    rng = np.random.default_rng(8)
    a, b = rng.dirichlet(np.ones(len(WORDS)), size=(2, 20))
    mix = (a + b) / 2
    ps = np.array(
        [closeness_test(draw(mix, 4, rng), draw(a, 4, rng), draw(b, 4, rng)).p_value for _ in range(400)]
    )
    assert at_most_expected(int(np.sum(ps <= 0.05)), len(ps), 0.05)
    assert at_most_expected(int(np.sum(ps <= 0.01)), len(ps), 0.01)


def test_closeness_test_finds_the_suspects_origin() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.dirichlet(np.ones(len(WORDS)), size=(2, 20))
    near_a = 0.9 * a + 0.1 * b
    outcomes = [closeness_test(draw(near_a, 10, rng), draw(a, 10, rng), draw(b, 10, rng)) for _ in range(20)]
    assert np.mean([o.p_value <= 0.05 for o in outcomes]) >= 0.9
    assert all(o.mmd2_to_a < o.mmd2_to_b for o in outcomes[:5])
    reverse = closeness_test(draw(near_a, 10, rng), draw(b, 10, rng), draw(a, 10, rng))
    assert reverse.p_value > 0.5 and reverse.standardized < 0


def test_prompts_without_enough_samples_are_left_out_and_counted() -> None:
    x = {"p1": ["a", "b"], "p2": ["a"], "p3": ["a", "a"]}
    y = {"p1": ["a", "b"], "p2": ["b", "b"], "p4": ["c", "c"]}
    outcome = equality_test(x, y, permutations=99)
    assert (outcome.prompts, outcome.dropped_prompts, outcome.x_samples) == (1, 3, 2)
    with pytest.raises(DataError, match="no prompt has at least 2 completions"):
        equality_test({"p": ["a"]}, {"p": ["b", "c"]})
    with pytest.raises(DataError, match="closeness test needs at least 2"):
        closeness_test(x, y, y)
