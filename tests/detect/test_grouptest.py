"""The group rank test: exact p-values against enumeration and simulation, the issue's numbers, and the
null on honest-only traffic over several seeds."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from detect_world import detect_at
from scipy.stats import hypergeom

from distillab.detect.grouptest import (
    GroupNull,
    GroupTests,
    calibrated,
    inflation,
    rank_test,
    scan_p,
    top_p,
)
from distillab.detect.run import prepare_reference
from distillab.detect.simulate import SimulateConfig, simulate


def scan_statistic(positions: tuple[int, ...], n: int, k: int) -> float:
    """min over j of p_j for a group at these pooled places (1 = most extreme), straight from the
    definition."""
    return min(top_p(j + 1, position - (j + 1), n, k) for j, position in enumerate(sorted(positions)))


@pytest.mark.parametrize(("n", "k"), [(6, 2), (7, 3), (5, 4)])
def test_top_p_and_scan_p_match_enumeration(n: int, k: int) -> None:
    subsets = list(itertools.combinations(range(1, n + k + 1), k))
    for j in range(1, k + 1):
        for r in range(n + 1):
            share = sum(sorted(s)[j - 1] <= j + r for s in subsets) / len(subsets)
            assert top_p(j, r, n, k) == pytest.approx(share)
    statistics = [scan_statistic(s, n, k) for s in subsets]
    for t in sorted(set(statistics)):
        share = sum(x <= t * (1 + 1e-9) for x in statistics) / len(subsets)
        assert scan_p(t, n, k) == pytest.approx(share)


def test_scan_p_matches_simulation() -> None:
    n, k, draws = 60, 8, 20_000
    rng = np.random.default_rng(0)
    places = np.sort(rng.random((draws, n + k)).argsort(axis=1)[:, :k] + 1, axis=1)  # random k-subsets
    j = np.arange(1, k + 1)
    statistics = hypergeom.sf(j - 1, n + k, k, places).min(axis=1)  # scan_statistic, vectorised
    for t in (1e-3, 1e-2, 0.05, 0.2):
        expected = scan_p(t, n, k)
        assert expected <= 4 * t * k  # a union bound over j
        margin = 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-4
        assert abs(float(np.mean(statistics <= t)) - expected) <= margin


def test_rank_test_on_the_issues_numbers() -> None:
    """One account beaten by one honest account of 384 gets 2/385; sixty of them together are certain."""
    alone = rank_test([1], 384)
    assert alone.p_value == pytest.approx(2 / 385)
    group = rank_test([1] * 60, 384)
    assert group.p_value < 1e-60 and group.j == 60 and group.beaten_by == 1
    assert "60 of its 60 accounts" in group.words()
    # A campaign with ordinary members still stands on its extreme ones: the scan finds the best j.
    mixed = rank_test([0, 0, 1, 1, 2, 2, 3, 3, 200, 300, 384, 384], 384)
    assert mixed.j == 8 and mixed.p_value < 1e-10
    # Ties with the reference count against the group: dominated accounts prove nothing.
    assert rank_test([384] * 20, 384).p_value == 1.0
    # Calibration on honest groups can only weaken a p-value.
    assert rank_test([1] * 10, 384, inflation=3.0).p_value == pytest.approx(
        rank_test([1] * 10, 384).p_value ** (1 / 3)
    )


def test_inflation_follows_the_honest_groups() -> None:
    rng = np.random.default_rng(1)
    assert inflation([]) == 1.0
    assert inflation(list(rng.uniform(size=200))) == pytest.approx(1.0, abs=0.25)  # valid p-values
    assert inflation([0.5, 0.9, 1.0, 1.0]) == 1.0
    # One honest group far beyond what 40 groups should show: its p-value sets the power.
    assert inflation([1e-12] + [0.5] * 39) == pytest.approx(np.log(1e-12) / np.log(0.05 / 40))


def test_inflation_keeps_honest_groups_uniform_below_a_tenth() -> None:
    # A tenth of 100 honest groups at p = 0.001: their mean -log p (0.69) and their smallest (against
    # 0.05 / 100) both pass uncorrected, yet 10% of honest groups would be flagged at 0.001.
    honest = [0.001] * 10 + [1.0] * 90
    power = inflation(honest)
    assert power == pytest.approx(np.log(0.001) / np.log(9.05 / 100))
    corrected = np.array([calibrated(p, power) for p in honest])
    for alpha in (0.001, 0.01, 0.05, 0.09):
        assert (corrected <= alpha).mean() <= alpha
    # Large honest p-values say nothing about the tail: they never raise the power.
    assert inflation([0.5] * 100) == 1.0


def test_groups_linked_on_behaviour_are_calibrated_on_their_own_kind() -> None:
    rng = np.random.default_rng(2)
    teams = list(rng.uniform(size=200))
    behaving = [1e-5, 1e-4, 0.02, 0.3, 0.6, 0.9] * 4  # honest groups linked on behaviour: further out
    exact = teams + behaving
    alike = [False] * len(teams) + [True] * len(behaving)
    null = GroupNull.of(exact, pooled_p=[0.5] * len(exact), alike=alike)
    rank, pooled = null.power(alike=True)
    assert rank > null.power(alike=False)[0] >= 1.0
    assert rank >= inflation(behaving) and pooled == null.pooled_inflation == 1.0
    # Too few groups of a kind for an inflation of their own: the overall one.
    few = GroupNull.of(teams + behaving[:6], pooled_p=[0.5] * 206, alike=[False] * 200 + [True] * 6)
    assert few.power(alike=True) == few.power(alike=False)
    # A kind whose own groups look ordinary still gets at least the inflation of all honest groups.
    mild = GroupNull.of([1e-6] + teams, pooled_p=[1e-6] + teams, alike=[False] + [True] * len(teams))
    assert mild.power(alike=True) == (mild.inflation, mild.pooled_inflation) == mild.power(alike=False)
    assert mild.pooled_inflation > 1.0


def test_each_test_of_a_group_passes_only_at_its_bonferroni_share() -> None:
    """A group's tests are combined with Bonferroni, and a test that takes members down with the group
    (its rank test's most extreme accounts, the paraphrase group's core) must pass at its share too."""
    tests = GroupTests(pooled=0.5, rank=0.0008, paraphrase=0.9)
    assert tests.p_value == pytest.approx(0.0024) and not tests.rank_passes(0.001)
    assert GroupTests(pooled=0.5, rank=0.0003).rank_passes(0.001)
    assert not GroupTests(pooled=0.5).rank_passes(1.0)
    assert GroupTests(pooled=0.5, rank=0.9, paraphrase=0.0003).paraphrase_passes(0.001)
    assert not GroupTests(pooled=0.0002, rank=0.9, paraphrase=0.0004).paraphrase_passes(0.001)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("reference") / "honest.parquet"
    simulate(SimulateConfig(out=out, seed=70, accounts=400, days=1.0, attacker_share=0.0))
    return out, prepare_reference(out)


@pytest.mark.parametrize("seed", [71, 72, 73])
def test_honest_only_traffic_forms_no_flagged_group(
    seed: int, reference: tuple[Path, Any], tmp_path: Path
) -> None:
    """Honest-only simulated logs of other seeds: linking forms honest groups (companies, alike users),
    and the group tests flag none of them; their p-values are not small more often than they should be."""
    log = tmp_path / "honest.parquet"
    simulate(SimulateConfig(out=log, seed=seed, accounts=300, days=1.0, attacker_share=0.0))
    target = 0.01
    summary, groups = detect_at(log, reference, tmp_path / "out", target)
    null = reference[1][1].group_null
    assert len(null.pooled_p) == len(null.exact_p) == len(null.alike) == null.groups > 0
    assert min(null.power(alike=True)) >= 1.0
    assert groups and summary.groups == len(groups)
    assert summary.flagged_groups == 0
    assert sum(g["rank_test"]["p_value"] <= target for g in groups) <= target * len(groups) + 1
    assert summary.flagged_accounts <= target * summary.accounts
