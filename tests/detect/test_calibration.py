"""Calibration across seeds: on honest-only simulated traffic, calibrated on a different seed, the
realised false-positive rate stays at or under the target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from distillab.detect.config import DetectConfig
from distillab.detect.run import prepare_reference, run_detect
from distillab.detect.simulate import SimulateConfig, simulate

TARGET = 0.01


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("reference") / "honest.parquet"
    simulate(SimulateConfig(out=out, seed=50, accounts=500, days=1.0, attacker_share=0.0))
    return out, prepare_reference(out)


@pytest.mark.parametrize("seed", [51, 52, 53])
def test_honest_false_positive_rate_across_seeds(
    seed: int, reference: tuple[Path, Any], tmp_path: Path
) -> None:
    log = tmp_path / "honest.parquet"
    simulate(SimulateConfig(out=log, seed=seed, accounts=300, days=1.0, attacker_share=0.0))
    path, prepared = reference
    summary = run_detect(
        DetectConfig(
            log=str(log),
            out=tmp_path / "out",
            reference=str(path),
            target_fpr=TARGET,
            checkpoint_hours=0,
            progress=False,
        ),
        prepared=prepared,
    )
    accounts = [json.loads(line) for line in (tmp_path / "out" / "accounts.jsonl").open()]
    n = len(accounts)
    assert summary.flagged_accounts <= TARGET * n
    # The p-values themselves are calibrated: about a share `a` of honest accounts at or below `a`
    # (binomial margins for a few hundred accounts).
    assert sum(a["p_value"] <= TARGET for a in accounts) <= 2 * TARGET * n + 2
    assert sum(a["p_value"] <= 0.1 for a in accounts) <= 0.1 * n + 3 * (0.09 * n) ** 0.5
