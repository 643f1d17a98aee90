"""Calibration across seeds, on simulated traffic.

With a clean reference (another seed's honest traffic): honest p-values are uniform per behaviour (a
KS test on the randomised rank p-values), the combined p-value is never smaller than uniform, and the
realised false-positive rate stays at or under the target. Self-calibrated (no reference): the same
honest logs stay at the target, and a campaign running a quarter of a log's accounts leaves the honest
estimate, where calibrating on every account lets it vouch for itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import kstest

from distillab.detect.calibrate import collect, open_log, units_of
from distillab.detect.config import DetectConfig
from distillab.detect.features import prior_of, shrink
from distillab.detect.linking import link
from distillab.detect.run import prepare_reference, run_detect
from distillab.detect.scoring import FAMILIES, Calibration
from distillab.detect.selfcal import SELF_K, self_calibrate
from distillab.detect.simulate import SimulateConfig, read_labels, simulate

TARGET = 0.01
SELF_TARGET = 0.02
"""Self-calibrated p-values are ranks among the log's own ~250 honest-looking accounts: 3/(N+1) ~ 0.012
at best, so a log of this size is checked at 0.02."""
SEEDS = (51, 52, 53)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("reference") / "honest.parquet"
    simulate(SimulateConfig(out=out, seed=50, accounts=500, days=1.0, attacker_share=0.0))
    return out, prepare_reference(out)


@pytest.fixture(scope="module")
def honest_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    work = tmp_path_factory.mktemp("honest")
    logs = {}
    for seed in SEEDS:
        logs[seed] = work / f"honest-{seed}.parquet"
        simulate(SimulateConfig(out=logs[seed], seed=seed, accounts=300, days=1.0, attacker_share=0.0))
    return logs


def detect(log: Path, out: Path, reference: tuple[Path, Any] | None, target: float) -> list[dict[str, Any]]:
    run_detect(
        DetectConfig(
            log=str(log),
            out=out,
            reference=str(reference[0]) if reference else None,
            target_fpr=target,
            checkpoint_hours=0,
            progress=False,
        ),
        prepared=reference[1] if reference else None,
    )
    return [json.loads(line) for line in (out / "accounts.jsonl").open()]


@pytest.mark.parametrize("seed", SEEDS)
def test_honest_false_positive_rate_across_seeds(
    seed: int, reference: tuple[Path, Any], honest_logs: dict[int, Path], tmp_path: Path
) -> None:
    accounts = detect(honest_logs[seed], tmp_path / "out", reference, TARGET)
    n = len(accounts)
    assert sum(a["flagged"] for a in accounts) <= TARGET * n
    p = np.array([a["p_value"] for a in accounts])
    # The combined p-value (Bonferroni over the behaviours) is never smaller than uniform: a one-sided
    # KS test against p-values that would be too small, and binomial margins at two levels.
    assert kstest(p, "uniform", alternative="greater").pvalue > 0.001
    assert (p <= TARGET).sum() <= 2 * TARGET * n + 2
    assert (p <= 0.1).sum() <= 0.1 * n + 3 * (0.09 * n) ** 0.5


def test_per_behaviour_p_values_are_uniform_on_honest_traffic(
    reference: tuple[Path, Any], honest_logs: dict[int, Path]
) -> None:
    """Each behaviour's rank p-value, ties (honest accounts dominated by the reference: distance 0)
    broken at random as the randomised conformal p-value does, is uniform on honest accounts
    exchangeable with the reference."""
    embedder, calibration = reference[1]
    rng = np.random.default_rng(0)
    for seed, log in honest_logs.items():
        _, batches = open_log(log, embedder)
        features = shrink(collect(batches, embedder).raw(), calibration.prior)
        distance = calibration.score(features).family_distance
        for f, family in enumerate(FAMILIES):
            loo = calibration.tails[f].loo
            above = len(loo) - np.searchsorted(loo, distance[:, f], side="right")
            ties = np.searchsorted(loo, distance[:, f], side="right") - np.searchsorted(loo, distance[:, f])
            p = (above + rng.uniform(size=len(above)) * (1 + ties)) / (1 + len(loo))
            assert kstest(p, "uniform").pvalue > 0.001, (seed, family)


@pytest.mark.parametrize("seed", SEEDS)
def test_self_calibrated_honest_logs_stay_at_the_target(
    seed: int, honest_logs: dict[int, Path], tmp_path: Path
) -> None:
    accounts = detect(honest_logs[seed], tmp_path / "out", None, SELF_TARGET)
    n = len(accounts)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["certification"]["smallest_certifiable_fpr"] <= SELF_TARGET
    assert sum(a["flagged"] for a in accounts) <= SELF_TARGET * n
    p = np.array([a["p_value"] for a in accounts])
    assert kstest(p, "uniform", alternative="greater").pvalue > 0.001


def quarter(tmp_path: Path, seed: int) -> tuple[Path, set[str]]:
    """A simulated day in which one campaign (many accounts sharing a work queue) runs about a quarter
    of the accounts."""
    log = tmp_path / "quarter.parquet"
    simulate(
        SimulateConfig(
            out=log, seed=seed, accounts=300, days=1.0, attacker_share=0.7, campaigns=("many-accounts",)
        )
    )
    labels = read_labels(tmp_path / "quarter.labels.jsonl")
    campaign = {a for a, v in labels.items() if v["label"] != "benign"}
    assert 0.2 <= len(campaign) / len(labels) <= 0.3
    return log, campaign


def test_self_calibration_flags_a_campaign_of_a_quarter_of_the_accounts(tmp_path: Path) -> None:
    """Seed 405: every campaign account is beyond every account kept as honest, so ranks flag it at
    3/(N+1). (On 3 of the 6 seeds tried, 405 and 407-410, they are; on the others honest benchmark
    teams are as far out, and the campaign is only caught as a group: docs/detect.md.)"""
    log, campaign = quarter(tmp_path, 405)
    accounts = detect(log, tmp_path / "out", None, SELF_TARGET)
    flagged = {a["account"] for a in accounts if a["flagged"]}
    assert len(flagged & campaign) >= 0.9 * len(campaign)
    assert not flagged - campaign


def test_self_calibration_is_not_masked_by_a_campaign_of_a_quarter_of_the_accounts(tmp_path: Path) -> None:
    """Seed 408 (where ranks alone do not flag the campaign): calibrated on every account, the campaign
    vouches for itself and looks ordinary; the robust estimate leaves it out, and its accounts' p-values
    fall to the smallest the log certifies."""
    log, campaign = quarter(tmp_path, 408)
    embedder, batches = open_log(log)
    table = collect(batches, embedder)
    links = link(table)
    raw = table.raw()
    prior = prior_of(raw)
    features = shrink(raw, prior)
    n = len(features)
    units, _ = units_of(table, links, prior)
    linked = [[j for j in units.exclude[i] if j < n] for i in range(n)]
    rows = [table.index[a] for a in campaign]
    honest_rows = [i for i in range(n) if table.names[i] not in campaign]
    everyone = Calibration(
        features, prior, k=max(1, math.ceil(SELF_K * n)), exclude=linked, extrapolate=False
    )
    masked = everyone.score(features, linked).p_value[rows]
    robust, left_out = self_calibrate(table, links, target_fpr=SELF_TARGET, fdr=0.05)
    assert left_out[rows].mean() >= 0.9 and left_out[honest_rows].mean() <= 0.1
    p = robust.score(features, linked).p_value
    assert np.median(masked) > 0.3 and np.median(p[rows]) < 0.05
    assert (p[rows] <= 1.0001 * robust.smallest_p()).mean() >= 0.5
    assert (p[honest_rows] <= SELF_TARGET).mean() <= SELF_TARGET
