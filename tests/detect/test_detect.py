"""Detection on hand-built logs: features, linking, flags, calibration on honest-only traffic."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from detect_world import START, attacker, honest_account, world

from distillab.detect.config import DetectConfig
from distillab.detect.features import AccountStats
from distillab.detect.linking import link
from distillab.detect.run import run_detect
from distillab.errors import ConfigError, DataError


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def stats_of(records: list[dict[str, Any]]) -> dict[str, AccountStats]:
    out: dict[str, AccountStats] = {}
    for r in records:
        out.setdefault(r["account"], AccountStats(r["account"])).add(r)
    return out


def test_features_on_hand_counted_requests() -> None:
    base = {"ts": START, "account": "a", "endpoint": "/v1/chat/completions", "model": "m"}
    records = [
        {**base, "ts": START, "messages": [{"role": "user", "content": "Explain each step: 2 + 3"}],
         "params": {"logprobs": True, "top_logprobs": 5, "max_tokens": 100}},
        {**base, "ts": START + 10, "messages": [{"role": "user", "content": "Explain each step: 4 + 9"}],
         "params": {"n": 2, "max_tokens": 300}},
        {**base, "ts": START + 20, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                                 {"role": "user", "content": "what is a lemon"}], "params": {}},
        {**base, "ts": START + 30, "prompt": "def f(x):", "params": {"max_tokens": 44}},
    ]
    f = stats_of(records)["a"].features()
    assert f["cot_share"] == 0.5 and f["logprob_share"] == 0.25 and f["multi_sample_share"] == 0.25
    assert f["single_shot_share"] == 0.75
    assert f["template_reuse"] == pytest.approx(1 - 3 / 4)  # the two "Explain each step" prompts share a skeleton
    assert f["answer_budget"] == pytest.approx(__import__("math").log1p((100 + 300 + 256 + 44) / 4))
    assert f["regularity"] == pytest.approx(1.0)  # equal gaps


def test_linking_joins_a_campaign_but_not_a_shared_proxy() -> None:
    rng = random.Random(0)
    records = []
    for j in range(6):
        records += attacker(rng, f"thin-{j}", 12, payment="card-1", ip=f"198.51.100.{j}")
    for i in range(8):
        records += honest_account(rng, f"office-{i}", ip="203.0.113.5")  # one corporate proxy
    clusters = link(stats_of(records).values()).clusters
    assert clusters == [sorted(f"thin-{j}" for j in range(6))]


def test_campaigns_are_flagged_and_honest_users_are_not(tmp_path: Path) -> None:
    records, labels = world(seed=1)
    log = write(tmp_path / "log.jsonl", records)
    honest, _ = world(seed=2, honest=400, heavy=False, spread=0)  # a clean period to calibrate on
    write(tmp_path / "labels.jsonl", [{"account": a, "label": lab} for a, lab in labels.items()])
    summary = run_detect(DetectConfig(log=str(log), out=tmp_path / "out", labels=tmp_path / "labels.jsonl",
                                      reference=str(write(tmp_path / "ref.jsonl", honest)), target_fpr=0.01,
                                      progress=False))
    metrics = summary["metrics"]
    assert metrics["campaigns"]["c-heavy"]["detected"] and metrics["campaigns"]["c-thin"]["detected"]
    assert metrics["recall"] == 1.0 and metrics["honest_false_positive_rate"] <= 0.01
    accounts = {json.loads(line)["account"]: json.loads(line) for line in (tmp_path / "out" / "accounts.jsonl").open()}
    assert accounts["thin-3"]["flagged"] and accounts["heavy"]["flagged_by"] == "own traffic"
    assert any("step-by-step" in reason for reason in accounts["heavy"]["reasons"])
    groups = json.loads((tmp_path / "out" / "campaigns.json").read_text())
    thin = next(g for g in groups if "thin-0" in g["members"])
    assert len(thin["members"]) >= 30 and thin["flagged"] and any("payment" in r for r in thin["linked_by"])
    assert "<script" not in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_honest_only_false_positive_rate_stays_under_target(seed: int, tmp_path: Path) -> None:
    reference, _ = world(seed=seed + 100, honest=600, heavy=False, spread=0)
    honest, _ = world(seed=seed, honest=600, heavy=False, spread=0)
    target = 0.01
    summary = run_detect(DetectConfig(log=str(write(tmp_path / "log.jsonl", honest)), out=tmp_path / "out",
                                      reference=str(write(tmp_path / "ref.jsonl", reference)), target_fpr=target,
                                      progress=False))
    accounts = [json.loads(line) for line in (tmp_path / "out" / "accounts.jsonl").open()]
    realised = sum(a["p_value"] <= target for a in accounts) / len(accounts)
    assert realised <= 2 * target  # p-values are calibrated (a binomial margin for 600 accounts)
    assert summary["flagged_accounts"] <= 0.01 * len(accounts)


def test_bad_input(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"ts": 1, "account": "a", "prompt": "x"}\n{"ts": 2, "prompt": "y"}\n')
    with pytest.raises(DataError, match="bad.jsonl:2: 'account' must be a non-empty string"):
        run_detect(DetectConfig(log=str(tmp_path / "bad.jsonl"), out=tmp_path / "o", progress=False))
    with pytest.raises(ConfigError, match="target_fpr"):
        DetectConfig(log="x.jsonl", out=tmp_path, target_fpr=2)
