"""The contest on the real model (`distillab demo --world smollm2`) at a tiny size: SmolLM2 served by the
gateway with the watermark, a campaign that shares no metadata, pruned students, the same report and the
same control students as the tiny world. Minutes on 2 CPU cores; the full-size run is timed in
docs/contest.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillab.db.store import Store
from distillab.demo.config import ContestConfig
from distillab.demo.contest import run_contest

pytestmark = [pytest.mark.real, pytest.mark.slow]


# A few minutes on a quiet 2-core machine; four times that while other jobs load it, past the suite's
# 600 s default.
@pytest.mark.timeout(1800)
def test_the_contest_plays_on_the_real_model(
    real_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The world's students go to the test's directory; the GGUF's converted copy stays in the user's cache.
    monkeypatch.setattr("distillab.toy.cache.cache_root", lambda: tmp_path / "cache")
    config = ContestConfig.for_world(
        "smollm2",
        real_model=real_gguf,
        out=tmp_path / "demo",
        campaign_accounts=4,
        campaign_queries=16,
        honest_accounts=4,
        honest_requests=4,
        reference_accounts=200,
        rpm=600,
        detect_every=0.5,
        steps=3,
        eval_items=6,
        attribution_prompts=3,
        attribution_samples=2,
        radioactivity_texts=6,
        membership_prompts=4,
        membership_samples=2,
    )
    summary = run_contest(config)
    round_ = summary.rounds["detect+degrade"]
    where = config.out / "round-detect+degrade"

    assert summary.task == "stdlib" and summary.teacher.score == 1.0
    assert summary.untrained_student_score == 0.0
    # The attacker's student learned from the harvest: closer to the teacher than where it started.
    assert round_.campaign.answered > 0 and round_.student_score is not None and round_.student_score > 0
    losses = summary.reference_losses
    assert losses is not None and losses["teacher"] < losses["untrained"]

    # The campaign's accounts came from their own networks with their own cards (the gateway's own log).
    labels = [json.loads(line) for line in (where / "labels.jsonl").read_text().splitlines()]
    campaign = {row["account"] for row in labels if row["label"] != "benign"}
    with Store(where / "gateway.db", create=False) as store:
        logged = [r for r in store.iter_logs() if r["account"] in campaign]
    assert len({r["account"] for r in logged}) == 4
    assert len({r["ip"] for r in logged}) == 4 and "127.0.0.1" not in {r["ip"] for r in logged}
    assert len({r["payment_id"] for r in logged}) == 4

    # The innocent control's tests are calibrated: at their alpha (0.05) they call it significant 5% of
    # the time (a CI run saw p = 0.04, 77 green of 259 pairs against 65 expected), so none may be far
    # below it; every p-value is a probability.
    control = summary.control.proof
    assert control.radioactivity and all(t.p_value > 1e-3 for t in control.radioactivity)
    for proof in (round_.proof, control):
        assert all(0 < t.p_value <= 1 for t in proof.radioactivity + proof.attribution + proof.membership)
    report = (config.out / "report.html").read_text()
    assert "--world smollm2" in report and "own home network" in report
    assert json.loads((config.out / "summary.json").read_text())["config"]["world"] == "smollm2"
