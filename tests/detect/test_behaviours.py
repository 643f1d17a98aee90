"""Per-behaviour scoring, and what a reference can certify.

The scenario of issue 16: a clean honest reference of 384 accounts, one of them a benchmark runner far
out on its own (templated one-off prompts, one-token answers, log-probabilities), and a campaign of 20
accounts sharing no payment id, org or network, each asking for long answers to one-off prompts over
every topic, half of them step by step. One combined score put the benchmark runner beyond every
campaign account, so none got below p = 2/385. Scored per behaviour, the benchmark runner only
raises the reference distances of distribution harvesting, and the campaign is beyond every honest
account in reasoning harvesting.

What is honest here: 384 reference units rank no p-value below 1/385 per behaviour, 3/385 = 0.0078
over the three, above the default --target-fpr 0.001. The campaign's p-values below that come from the
exponential tail fitted to the reference distances (a model, marked `p_from_tail`), and the run says
so before it scores anything, with what ranks alone flag at 0.0078 and how many reference accounts
0.001 needs (2,999).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from detect_world import benchmark_runner, hydra_account, world
from rich.console import Console

from distillab.detect.config import DetectConfig
from distillab.detect.features import FEATURES
from distillab.detect.run import prepare_reference, run_detect
from distillab.detect.scoring import FAMILIES
from distillab.errors import DataError

HYDRA = [f"hydra-{j}" for j in range(20)]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    records.sort(key=lambda r: r["ts"])
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("behaviours")
    rng = random.Random(3)
    reference, _ = world(seed=20, honest=383, heavy=False, spread=0)
    reference += benchmark_runner(rng, "bench-ref", 1500)
    log, labels = world(seed=21, honest=200, heavy=False, spread=0)
    for name in HYDRA:
        log += hydra_account(rng, name, 60)
        labels[name] = "c-hydra"
    log += benchmark_runner(rng, "bench-log", 1000)
    labels["bench-log"] = "benign"
    (work / "labels.jsonl").write_text(
        "".join(json.dumps({"account": a, "label": v}) + "\n" for a, v in labels.items())
    )
    ref_path, log_path = write(work / "reference.jsonl", reference), write(work / "log.jsonl", log)
    prepared = prepare_reference(ref_path)
    console = io.StringIO()
    config = DetectConfig(
        log=str(log_path),
        out=work / "out",
        reference=str(ref_path),
        labels=work / "labels.jsonl",
        target_fpr=0.001,
        checkpoint_hours=0,
        progress=False,
    )
    summary = run_detect(config, console=Console(file=console, width=200), prepared=prepared)
    accounts = {
        json.loads(line)["account"]: json.loads(line) for line in (work / "out" / "accounts.jsonl").open()
    }
    return {
        "work": work,
        "config": config,
        "prepared": prepared,
        "summary": summary,
        "console": console.getvalue(),
        "accounts": accounts,
        "written": json.loads((work / "out" / "summary.json").read_text()),
    }


def combined_distance(x: np.ndarray, reference: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The single score every feature at once used to be: min over reference rows of the summed
    excess."""
    return (np.maximum(x[:, None, :] - reference[None, :, :], 0) / scale).sum(axis=2).min(axis=1)


def test_one_extreme_honest_account_would_cap_a_single_combined_score(scenario: dict[str, Any]) -> None:
    """The scenario is the issue's: on all features at once the benchmark runner is farther from the
    other honest accounts than any campaign account is from the honest accounts, so ranks put every
    campaign account behind it."""
    _, calibration = scenario["prepared"]
    reference = calibration.features
    bench = calibration.names.index("bench-ref")
    others = np.delete(reference, bench, axis=0)
    bench_alone = combined_distance(reference[bench : bench + 1], others, calibration.scale)[0]
    hydra = np.array([[scenario["accounts"][a]["features"][f] for f in FEATURES] for a in HYDRA])
    assert combined_distance(hydra, reference, calibration.scale).max() < bench_alone
    # Per behaviour, the benchmark runner is the farthest honest unit in distribution harvesting, while
    # in reasoning harvesting every campaign account is beyond every honest unit, the runner included.
    assert int(calibration.loo_unsorted[:, list(FAMILIES).index("distribution")].argmax()) == bench
    beyond = calibration.tails[list(FAMILIES).index("reasoning")].loo[-1]
    for name in HYDRA:
        assert scenario["accounts"][name]["behaviour"] == "reasoning"
        assert scenario["accounts"][name]["score"] > beyond


def test_the_campaign_is_flagged_despite_the_extreme_honest_account(scenario: dict[str, Any]) -> None:
    accounts, summary = scenario["accounts"], scenario["summary"]
    for name in HYDRA:
        hydra = accounts[name]
        assert hydra["flagged"] and hydra["flagged_by"] == "own traffic", hydra
        assert hydra["p_value"] <= 0.001 and hydra["p_from_tail"]  # below 3/385: the tail's doing
        assert hydra["p_by_behaviour"]["reasoning"] < 1 / 385 < hydra["p_by_behaviour"]["distribution"]
        why = hydra["reasons"][0]
        assert why.startswith("reasoning harvesting") and "closest honest account user-20-" in why
        assert any("step-by-step" in reason for reason in hydra["reasons"][1:])
    assert not accounts["bench-log"]["flagged"]
    assert summary.metrics is not None and summary.metrics.recall == 1.0
    assert summary.metrics.honest_false_positive_rate == 0.0


def test_a_too_small_reference_is_said_at_the_start_and_in_the_summary(
    scenario: dict[str, Any], tmp_path: Path
) -> None:
    said = " ".join(scenario["console"].split())
    assert "the reference has 384 honest units: too few for --target-fpr 0.001" in said
    assert "certify a false-positive rate of 0.0078 at best" in said and "needs 2,999 reference units" in said
    assert "rest on the tail fitted to the reference distances" in said
    assert scenario["summary"].notes[0] == said.strip()

    cert = scenario["written"]["certification"]
    assert cert["reference_units"] == 384 and cert["behaviours"] == 3 and not cert["certifiable"]
    assert cert["smallest_certifiable_fpr"] == pytest.approx(3 / 385)
    assert cert["reference_units_needed"] == 2999 and cert["tail"]
    # Ranks alone flag the campaign at 3/385, and only the campaign.
    assert cert["flagged_at_smallest"] == 20 and sorted(cert["accounts_at_smallest"]) == sorted(HYDRA)
    assert cert["flagged_from_tail"] == 20

    # "At the start": before the log is read. A log that cannot be read fails after the message.
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ts": 1, "prompt": "no account"}\n')
    console = io.StringIO()
    config = DetectConfig(
        log=str(bad), out=tmp_path / "out", reference=scenario["config"].reference, progress=False
    )
    with pytest.raises(DataError, match="account"):
        run_detect(config, console=Console(file=console, width=200), prepared=scenario["prepared"])
    assert "too few for --target-fpr 0.001" in console.getvalue()


def test_a_large_enough_reference_says_so(scenario: dict[str, Any], tmp_path: Path) -> None:
    console = io.StringIO()
    config = DetectConfig(
        log=scenario["config"].log,
        out=tmp_path / "out",
        reference=scenario["config"].reference,
        target_fpr=0.01,
        checkpoint_hours=0,
        progress=False,
    )
    summary = run_detect(config, console=Console(file=console, width=200), prepared=scenario["prepared"])
    assert "within --target-fpr 0.01" in console.getvalue()
    assert summary.certification is not None and summary.certification.certifiable
    assert summary.certification.flagged_at_smallest is None
