"""The independent traffic generator (tests/traffic): deterministic, labelled, readable by distillab's
log reader, and shaped like the public descriptions it follows."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from distillab.detect.logs import read_batches
from distillab.detect.record import ip_prefix
from distillab.errors import ConfigError
from traffic import Traffic, TrafficConfig, generate, write_labels, write_log
from traffic.campaigns import CAMPAIGNS
from traffic.honest import PERSONAS
from traffic.timing import DAY, over_limit
from traffic.vocab import LANGUAGES, SUBJECTS

CONFIG = TrafficConfig(accounts=90, seed=5, days=3, release_day=1.0)


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(CONFIG)


def by_kind(traffic: Traffic) -> dict[str, list[dict[str, Any]]]:
    kind = {a.name: a.kind for a in traffic.accounts}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in traffic.records:
        out[kind[r["account"]]].append(r)
    return out


def text(record: dict[str, Any]) -> str:
    return record["messages"][-1]["content"] if record["messages"] else record["prompt"]


def test_deterministic_per_seed(traffic: Traffic) -> None:
    again = generate(CONFIG)
    assert again.records == traffic.records
    assert again.labels() == traffic.labels()
    other = generate(TrafficConfig(accounts=90, seed=6, days=3, release_day=1.0))
    assert {a.name for a in other.accounts}.isdisjoint(a.name for a in traffic.accounts)
    assert [r["messages"] for r in other.records[:50]] != [r["messages"] for r in traffic.records[:50]]


def test_labels_cover_every_account_and_every_kind(traffic: Traffic, tmp_path: Path) -> None:
    labels = {row["account"]: row for row in traffic.labels()}
    assert {r["account"] for r in traffic.records} <= set(labels)
    assert len(labels) == CONFIG.accounts
    kinds = {row["kind"] for row in labels.values()}
    assert kinds == set(PERSONAS) | set(CAMPAIGNS)
    for row in labels.values():
        assert row["label"] == ("benign" if row["kind"] in PERSONAS else row["kind"])
    write_labels(traffic, tmp_path / "labels.jsonl")
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == traffic.labels()
    # the log does not carry its own answer key
    assert not {"label", "kind"} & set(traffic.records[0])


def test_logs_read_back_through_distillab_reader(traffic: Traffic, tmp_path: Path) -> None:
    """Both formats are read without errors, and the Parquet fast path (JSON-text columns read by string
    kernels) gives the same columns as the nested JSONL."""
    write_log(traffic, tmp_path / "log.parquet")
    write_log(traffic, tmp_path / "log.jsonl")
    parquet = list(read_batches(tmp_path / "log.parquet"))
    jsonl = list(read_batches(tmp_path / "log.jsonl"))
    assert sum(len(b) for b in parquet) == sum(len(b) for b in jsonl) == len(traffic.records)

    def column(batches: list[Any], name: str) -> list[Any]:
        values = [getattr(b, name) for b in batches]
        return [
            v for part in values for v in (part.to_pylist() if isinstance(part, pa.Array) else part.tolist())
        ]

    for name in (
        "account",
        "conversational",
        "cot",
        "distribution",
        "prefix",
        "user_agent",
        "payment_id",
        "org",
    ):
        assert column(parquet, name) == column(jsonl, name), name
    # the fast path reads JSON text as it stands: newlines become spaces and escapes stay
    fast = [t.replace('\\"', '"').replace("\\\\", "\\") for t in column(parquet, "text")]
    assert fast == [t.replace("\n", " ") for t in column(jsonl, "text")]
    tokens = np.array(column(parquet, "completion_tokens"), float)
    status = np.array([r["status"] for r in traffic.records])
    assert np.isnan(tokens[status != 200]).all() and not np.isnan(tokens[status == 200]).any()
    ts = np.array(column(parquet, "ts"))
    assert (np.diff(ts) >= 0).all()
    assert traffic.start <= ts[0] and ts[-1] < traffic.start + CONFIG.days * DAY
    with pytest.raises(ConfigError, match="log.csv"):
        write_log(traffic, tmp_path / "log.csv")


def test_campaigns_share_no_payment_id_or_org(traffic: Traffic) -> None:
    for field in ("payment_id", "org"):
        holders: dict[str, set[str]] = defaultdict(set)
        for a in traffic.accounts:
            value = getattr(a, field)
            if value is not None:
                holders[value].add(a.label)
        for value, labels in holders.items():  # held by one campaign's accounts, or by honest ones only
            assert len(labels) == 1, (field, value, labels)
    hydra = [a for a in traffic.accounts if a.kind == "hydra"]
    assert len({a.payment_id for a in hydra}) == len({a.org for a in hydra}) == len(hydra) >= 8
    # honest teams do share (a company's accounts), so linking on an org alone would not be enough
    honest_orgs = [a.org for a in traffic.accounts if a.label == "benign"]
    assert len(set(honest_orgs)) < len(honest_orgs)


def test_hydra_goes_through_proxies_that_ordinary_users_share(traffic: Traffic) -> None:
    kinds = by_kind(traffic)
    proxies = set(traffic.proxy_networks)
    assert {ip_prefix(r["ip"]) for r in kinds["hydra"]} <= proxies
    per_account: dict[str, set[str | None]] = defaultdict(set)
    for r in kinds["hydra"]:
        per_account[r["account"]].add(ip_prefix(r["ip"]))
    assert min(len(p) for p in per_account.values()) >= 2  # exits rotate per request
    honest_on_proxies = {
        r["account"] for persona in PERSONAS for r in kinds[persona] if ip_prefix(r["ip"]) in proxies
    }
    assert len(honest_on_proxies) >= 2
    # distillation mixed with ordinary-looking requests
    reasoning = [
        ("step by step" in text(r).lower() or "reasoning" in text(r).lower()) for r in kinds["hydra"]
    ]
    assert 0.2 < np.mean(reasoning) < 0.9
    assert any(r["params"].get("max_tokens") == 2048 for r in kinds["hydra"])


def test_cot_campaign_paces_just_under_the_rate_limit(traffic: Traffic) -> None:
    kinds = by_kind(traffic)
    cot = kinds["cot-elicitation"]
    ts: dict[str, list[float]] = defaultdict(list)
    for r in cot:
        ts[r["account"]].append(r["ts"])
    for times in ts.values():
        gaps = np.diff(times)
        busy = gaps[gaps < 30]
        rpm = 60 / np.median(busy)
        assert 0.8 * CONFIG.rate_limit_rpm < rpm < CONFIG.rate_limit_rpm
    assert np.mean([r["status"] == 429 for r in cot]) < 0.05
    assert min(len(t) for t in ts.values()) > 5 * np.median([n for n in _counts(kinds["chat"]).values()])
    reasoning = [any(w in text(r).lower() for w in ("step", "reasoning", "chain of thought")) for r in cot]
    assert np.mean(reasoning) > 0.8
    assert not any(m["role"] == "assistant" for r in cot for m in r["messages"])  # one-off prompts


def test_rate_limit_rejects_what_goes_over_it() -> None:
    times = np.concatenate([np.arange(25) * 2.0, 200 + np.arange(5) * 30.0])  # 25 in 50 s, then slow
    rejected = over_limit(times, 20)
    assert rejected[:20].sum() == 0 and rejected[20:25].all() and not rejected[25:].any()


def _counts(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        counts[r["account"]] += 1
    return counts


def test_low_and_slow_paraphrases_a_small_task_set(traffic: Traffic) -> None:
    records = by_kind(traffic)["low-and-slow"]
    tz = {a.name: a.tz for a in traffic.accounts}
    per_day: dict[tuple[str, int], int] = defaultdict(int)
    for r in records:  # per local day
        per_day[(r["account"], int((r["ts"] - traffic.start + tz[r["account"]] * 3600) // DAY))] += 1
    assert max(per_day.values()) <= 12
    texts = [text(r) for r in records]
    assert len(set(texts)) > 0.8 * len(texts)  # reworded, not repeated ...
    concepts = [frozenset(c for cs in SUBJECTS.values() for c in cs if c in t) for t in texts]
    assert len(set(concepts)) < 0.8 * len(texts)  # ... but the same tasks again


def test_logprob_harvest_asks_for_distributions(traffic: Traffic) -> None:
    for r in by_kind(traffic)["logprob-harvest"]:
        p = r["params"]
        assert p.get("logprobs") or p.get("n", 1) > 1
        assert p.get("temperature") in (0, 1.0)


def test_augmentation_rewrites_before_it_asks_for_answers(traffic: Traffic) -> None:
    first: dict[str, dict[str, float]] = defaultdict(dict)
    for r in by_kind(traffic)["augmentation"]:
        phase = "rewrite" if any(w in text(r) for w in ("paraphrases", "Rewrite", "versions")) else "answer"
        first[r["account"]].setdefault(phase, r["ts"])
    for phases in first.values():
        assert phases["rewrite"] < phases["answer"]


def test_model_pivot_moves_to_the_new_model_within_a_day(traffic: Traffic) -> None:
    assert traffic.release_at is not None
    kinds = by_kind(traffic)
    before = [r for r in traffic.records if r["ts"] < traffic.release_at]
    assert not any(r["model"] == "atlas-2" for r in before)

    def new_share(records: list[dict[str, Any]]) -> float:
        assert traffic.release_at is not None
        day = [r for r in records if traffic.release_at + DAY <= r["ts"] < traffic.release_at + 2 * DAY]
        return float(np.mean([r["model"] == "atlas-2" for r in day]))

    assert new_share(kinds["model-pivot"]) > 0.3
    honest = [r for persona in ("chat", "rag", "translation", "labelling") for r in kinds[persona]]
    assert new_share(honest) < new_share(kinds["model-pivot"])


def test_honest_systematic_personas(traffic: Traffic) -> None:
    kinds = by_kind(traffic)
    bench = kinds["benchmark"]
    assert all(r["params"].get("temperature") == 0 for r in bench)
    repeats = _counts([{"account": (r["account"], text(r))} for r in bench])  # items re-run
    assert max(repeats.values()) >= 2
    assert any(r["params"].get("max_tokens") == 1 and r["params"].get("logprobs") for r in bench)
    rag = kinds["rag"]
    assert np.median([len(text(r)) for r in rag]) > 1000
    assert all(any(lang in text(r) for lang in LANGUAGES) for r in kinds["translation"])
    assert np.mean([r["completion_tokens"] <= 4 for r in kinds["labelling"] if r["status"] == 200]) == 1.0
    assert any(r["messages"] and len(r["messages"]) > 2 for r in kinds["chat"])  # conversations


def test_office_personas_follow_local_working_hours() -> None:
    traffic = generate(TrafficConfig(accounts=60, seed=2, days=7))
    tz = {a.name: a.tz for a in traffic.accounts}
    kind = {a.name: a.kind for a in traffic.accounts}
    office = [r for r in traffic.records if kind[r["account"]] in ("developer", "content-writer")]
    local = [(r["ts"] - traffic.start) / 3600 + tz[r["account"]] for r in office]  # hours since local Monday
    assert np.mean([8 <= h % 24 < 19 for h in local]) > 0.6
    assert np.mean([h // 24 < 5 for h in local]) > 0.8  # the window starts on a Monday


def test_config_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as error:
        TrafficConfig(accounts=10, days=0, start="yesterday")
    message = str(error.value)
    assert "accounts must be >= 50" in message and "days must be 1..28" in message and "start" in message
