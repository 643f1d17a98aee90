"""`distillab demo`'s contest at a tiny size: every step runs over real HTTP, the numbers in the summary are
the ones in the run's own files, the defense changes what the attacker gets, and a rerun reuses everything."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from distillab.db.store import Store
from distillab.demo.config import ContestConfig
from distillab.demo.contest import run_contest
from distillab.demo.world import cached
from distillab.errors import ConfigError
from distillab.toy.config import TeacherConfig


def tiny(out: Path, **overrides: object) -> ContestConfig:
    teacher = TeacherConfig(task="text", size="tiny", steps=200, batch_size=32, eval_size=10)
    settings: dict[str, object] = {
        "out": out,
        "defenses": ("detect+degrade",),
        "campaign_accounts": 6,
        # 16 queries an account: the live detector can certify the linked campaign after 35 to 41 of its 96
        # queries (its members' rank test against the honest reference accounts) and acts a few seconds
        # later; the rest is the margin its flag must land in on a slow, busy machine (with 8 an account,
        # about 13 queries were left, and a CI run had degraded=0).
        "campaign_queries": 96,
        "honest_accounts": 10,
        "honest_requests": 24,
        # 400 honest reference accounts: their halves' honest groups calibrate the group tests
        # (`grouptest.GroupNull`), and on 200 (84 honest groups over 8 halvings) one honest pair linked on
        # behaviour, at rank p = 6e-4 on 3 halvings, set an inflation of 2.2 that left this 6-account
        # campaign uncertified within its 96 queries (1.7 on 400).
        "reference_accounts": 400,
        "rpm": 600,
        "detect_every": 0.5,
        "steps": 8,
        "curve_points": (0.5,),
        "eval_items": 8,
        "attribution_prompts": 6,
        "attribution_samples": 2,
        "radioactivity_texts": 10,
        "teacher": teacher,
        **overrides,
    }
    return ContestConfig(**settings)  # type: ignore[arg-type]


CONTEST_KEYS = [
    "task",
    "metric",
    "reference_losses",
    "teacher",
    "untrained_student_score",
    "control",
    "rounds",
    "config",
    "seconds",
]
ROUND_KEYS = [
    "defense",
    "seconds",
    "campaign",
    "honest",
    "flags",
    "settings",
    "detect",
    "curve",
    "student_score",
    "proof",
]
CAMPAIGN_KEYS = [
    "accounts",
    "queries",
    "answered",
    "degraded",
    "blocked_accounts",
    "statuses",
    "completion_tokens",
]
FLAG_KEYS = ["account", "campaign", "decision", "reason", "at_s", "after_queries"]
BRIEF_KEYS = ["name", "question", "p_value", "significant", "verdict", "effect", "sample_sizes"]
"""The keys of the contest's files, in the order the demo has always written them."""


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        ContestConfig(defenses="off,shields-up", campaign_queries=3, campaign_accounts=5, curve_points=(1.5,))
    text = str(info.value)
    assert "shields-up" in text and "campaign_queries" in text and "curve_points" in text


@pytest.mark.slow  # trains a teacher and five students, and runs a live gateway round: about 100 s
def test_tiny_contest_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny(tmp_path / "demo")
    summary = run_contest(config)
    round_ = summary.rounds["detect+degrade"]
    where = config.out / "round-detect+degrade"

    # The campaign's answers are the attacker's harvest, exactly; degraded ones lost their log-probabilities
    # and were cut to the degraded length.
    campaign = round_.campaign
    assert campaign.queries == 96 and campaign.accounts == 6
    records = pq.read_table(next((where / "harvest" / "data").glob("*.parquet"))).to_pylist()
    assert len(records) == campaign.answered > 0
    degraded = [r for r in records if not r["top_logprobs"]]
    assert len(degraded) == campaign.degraded
    assert all(r["usage"]["completion_tokens"] <= config.degrade_max_tokens for r in degraded)

    # Live flags come from the gateway's own decision log, and name campaign accounts only.
    with Store(where / "gateway.db", create=False) as store:
        decided = {d["account"] for d in store.list_decisions() if d["by"] == "detector"}
        logged = list(store.iter_logs())
    assert {f.account for f in round_.flags} == decided
    assert decided and all(f.campaign for f in round_.flags)
    assert campaign.degraded > 0
    labels = [json.loads(line) for line in (where / "labels.jsonl").read_text().splitlines()]
    assert {row["account"] for row in labels if row["label"] != "benign"} >= decided
    assert len(logged) == round_.detect.requests
    assert any(r["account"] == round_.flags[0].account for r in logged)
    honest_sent = sum(
        r["account"] not in {row["account"] for row in labels if row["label"] != "benign"} for r in logged
    )
    assert honest_sent == round_.honest.requests

    # The offline detector scored the round's log; the curve's students are trained on prefixes.
    assert round_.detect.metrics is not None and round_.detect.metrics.campaign_accounts == 6
    assert [point.answers for point in round_.curve] == [round(campaign.answered * 0.5), campaign.answered]
    # Scores are shares of the teacher's gain over the untrained student: finite, and the teacher's is 1.
    assert all(point.score is not None and math.isfinite(point.score) for point in round_.curve)
    assert summary.teacher.score == 1.0 and summary.untrained_student_score == 0.0
    losses = summary.reference_losses
    assert losses is not None and losses["teacher"] < losses["untrained"]

    # The proof ran on the attacker's student and on the control, with p-values in [0, 1].
    for proof in (round_.proof, summary.control.proof):
        tests = proof.radioactivity + proof.attribution
        assert {t.name.split(":")[0] for t in tests} >= {
            "radioactivity/open",
            "attribution/equality",
            "attribution/closer",
        }
        assert all(0 < t.p_value <= 1 for t in tests)
    assert (where / "prove" / "evidence.html").is_file()
    # Membership of the served answers: the campaign answers that were not degraded, against fresh ones.
    full = campaign.answered - campaign.degraded
    assert full > 0
    for proof in (round_.proof, summary.control.proof):
        (test,) = proof.membership
        assert test.name == "membership/served-answers" and 0 < test.p_value <= 1
        # A served answer counts when its prompt got fresh answers (an empty fresh answer is dropped).
        assert 0 < test.sample_sizes["prompts"] <= min(full, config.membership_prompts)
        assert test.sample_sizes["alternatives"] <= config.membership_samples * test.sample_sizes["prompts"]
    assert "membership/served-answers" in (config.out / "report.html").read_text()
    report = (config.out / "report.html").read_text()
    assert "<svg" in report

    # The files keep their keys: summary.json (the returned result's JSON), traffic.json, proof.json.
    written = json.loads((config.out / "summary.json").read_text())
    assert list(written) == CONTEST_KEYS
    assert list(written["control"]) == ["score", "proof"] and list(written["teacher"]) == ["path", "score"]
    assert list(written["rounds"]["detect+degrade"]) == ROUND_KEYS
    assert list(written["rounds"]["detect+degrade"]["proof"]) == [
        "radioactivity",
        "attribution",
        "membership",
    ]
    assert list(written["rounds"]["detect+degrade"]["curve"][0]) == ["share", "answers", "score"]
    assert list(written["rounds"]["detect+degrade"]["flags"][0]) == FLAG_KEYS
    assert list(written["rounds"]["detect+degrade"]["proof"]["radioactivity"][0]) == BRIEF_KEYS
    assert written == json.loads(json.dumps(summary.to_json(), default=str))
    traffic = json.loads((where / "traffic.json").read_text())
    assert list(traffic) == ["defense", "seconds", "campaign", "honest", "flags", "answers"]
    assert list(traffic["campaign"]) == CAMPAIGN_KEYS and list(traffic["honest"]) == [
        "accounts",
        "requests",
        "statuses",
    ]
    assert list(traffic["answers"][0]) == ["index", "account", "sent", "status", "degraded"]
    assert list(json.loads((where / "prove" / "proof.json").read_text())) == ["radioactivity", "attribution"]
    assert list(json.loads((where / "prove-membership" / "membership.json").read_text())) == BRIEF_KEYS

    # A rerun reuses every step: same numbers, no gateway round, no training.
    def reuse_only(path: Path, settings: dict[str, Any], build: Callable[[], object], *, done: str) -> bool:
        return cached(path, settings, lambda: pytest.fail(f"the rerun built {path} again"), done=done)

    for module in ("world", "round", "extraction", "proof", "membership"):
        monkeypatch.setattr(f"distillab.demo.{module}.cached", reuse_only)
    monkeypatch.setattr(
        "distillab.serving.process.serve_process", lambda *a, **k: pytest.fail("served again")
    )
    again = run_contest(config)
    assert again.rounds["detect+degrade"].student_score == round_.student_score
    assert again.rounds["detect+degrade"].proof == round_.proof
