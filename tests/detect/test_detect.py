"""Detection on hand-built logs: features, linking, flags, queries until flagged, and the two read paths."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from detect_world import START, attacker, honest_account, world

from distillab.detect.calibrate import open_log
from distillab.detect.config import DetectConfig
from distillab.detect.features import FEATURES, AccountStats, StatsTable, prior_of, shrink
from distillab.detect.linking import link
from distillab.detect.logs import from_arrow, from_records
from distillab.detect.result import DetectSummary
from distillab.detect.run import run_detect
from distillab.detect.text import Embedder
from distillab.errors import ConfigError, DataError

SUMMARY_KEYS = [
    "log",
    "reference",
    "reference_units",
    "target_fpr",
    "fdr",
    "accounts",
    "requests",
    "groups",
    "flagged_accounts",
    "flagged_groups",
    "checkpoints",
    "notes",
    "metrics",
    "seconds",
    "records_per_s",
    "certification",
    "embedder",
]
"""summary.json's keys with --labels and no --indicators, in the order detect writes them."""
METRICS_KEYS = [
    "honest_accounts",
    "campaign_accounts",
    "flagged_accounts",
    "precision",
    "recall",
    "honest_false_positive_rate",
    "honest_ever_flagged_rate",
    "campaigns",
    "campaigns_detected",
    "median_queries_until_flagged",
    "unlabelled_accounts",
]


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def embedder_for(records: list[dict[str, Any]]) -> Embedder:
    return Embedder.fit(
        [r["messages"][-1]["content"] if r.get("messages") else r["prompt"] for r in records], k=8
    )


def table_of_records(records: list[dict[str, Any]], embedder: Embedder) -> StatsTable:
    table = StatsTable(embedder)
    table.update(from_records(records))
    return table


def test_features_on_hand_counted_requests() -> None:
    base = {"account": "a", "endpoint": "/v1/chat/completions", "model": "m", "status": 200}
    records = [
        {
            **base,
            "ts": START,
            "messages": [{"role": "user", "content": "Explain each step: 2 + 3"}],
            "params": {"logprobs": True, "top_logprobs": 5, "max_tokens": 100},
            "completion_tokens": 7,
        },
        {
            **base,
            "ts": START + 10,
            "messages": [{"role": "user", "content": "Explain each step: 2 + 3"}],
            "params": {"n": 2},
            "completion_tokens": 15,
        },
        {
            **base,
            "ts": START + 20,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "yo"},
                {"role": "user", "content": "what is a lemon"},
            ],
            "params": {},
            "completion_tokens": 3,
        },
        {**base, "ts": START + 30, "prompt": "def f(x):", "params": {"max_tokens": 44}, "status": 429},
    ]
    table = table_of_records(records, embedder_for(records))
    stats = table.stats("a")
    assert stats.counts["n"] == 4 and stats.counts["single"] == 3 and stats.counts["cot"] == 2
    assert stats.counts["distribution"] == 2  # logprobs, and n = 2
    assert stats.counts["out_n"] == 3  # the 429 harvested nothing
    assert stats.counts["out_sum"] == pytest.approx(math.log2(8) + math.log2(16) + math.log2(4))
    raw = table.raw()
    events, trials = raw["novelty"]
    assert trials[0] == 4 and events[0] == pytest.approx(3, abs=0.05)  # one prompt was sent twice
    features = dict(zip(FEATURES, shrink(raw, dict.fromkeys(FEATURES, 0.0))[0]))
    assert features["single_shot"] == pytest.approx(3 / (4 + 10))  # shrunk towards the prior (0 here)
    assert features["coverage"] >= 0 and raw["volume"][0] == pytest.approx(math.log(4))


def test_batch_and_one_at_a_time_paths_agree(tmp_path: Path) -> None:
    rng = random.Random(3)
    records = honest_account(rng, "h", ip="203.0.113.5") + attacker(rng, "x", 40)
    records[3]["messages"][-1]["content"] = 'He said "hi"\n\tthen left \\ café \u201cok\u201d'
    records.sort(key=lambda r: r["ts"])
    embedder = embedder_for(records)
    live = {name: AccountStats(name, embedder) for name in ("h", "x")}
    for record in records:
        live[record["account"]].update(record)
    flat = [
        {**r, **{k: json.dumps(r[k]) for k in ("messages", "params") if r.get(k) is not None}}
        for r in records
    ]
    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pylist(flat), path)
    table = StatsTable(embedder)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=17):
        table.update(from_arrow(batch, where=str(path), first_row=0))
    for name, stats in live.items():
        other = table.stats(name)
        assert stats.counts == pytest.approx(other.counts)
        assert np.array_equal(stats.hll, other.hll) and np.array_equal(stats.skeletons, other.skeletons)
        assert (
            np.allclose(stats.topics, other.topics)
            and stats.days == other.days
            and stats.prefixes == other.prefixes
        )


def test_repeated_prompts_give_the_state_of_one_request_per_batch() -> None:
    """A batch embeds each distinct prompt once and sketches each account's distinct prompts and
    skeletons once: its state must be the one the same requests give a batch each (no repeats to
    share), whoever repeats what, long prompts (cut to their ends) and empty ones included."""
    rng = random.Random(5)
    long_prompt = " ".join(f"word{i} filler text" for i in range(200))
    pool = [
        "Solve 12 + 7 step by step.",
        "Solve 12 + 8 step by step.",
        "solve 12 + 7 STEP BY STEP.",
        "Translate 'good morning' into French.",
        long_prompt,
        long_prompt + " and one more",
        "",
    ]
    subjects = {"a": "astronomy", "b": "botany", "c": "chemistry"}
    own = {a: [f"{subject} question about {x}" for x in ("tea", "maps")] for a, subject in subjects.items()}
    records = []
    for i in range(400):
        account = rng.choice("abc")
        records.append(
            {
                "ts": START + i * 7.0,
                "account": account,
                "messages": [{"role": "user", "content": rng.choice(pool + own[account])}],
                "params": {"max_tokens": 64},
                "completion_tokens": rng.randint(1, 300),
            }
        )
    embedder = embedder_for(records[:50])
    batch = table_of_records(records, embedder)
    single = StatsTable(embedder)
    for record in records:
        single.update(from_records([record]))
    assert batch.names == single.names
    n = len(batch)
    for name in ("topics", "hll", "skeletons"):
        assert np.array_equal(getattr(batch, name)[:n], getattr(single, name)[:n]), name
    for name, values in batch.counts.items():
        assert np.allclose(values[:n], single.counts[name][:n]), name
    assert batch.behaviour is not None and single.behaviour is not None
    assert np.allclose(batch.behaviour.ask[:n], single.behaviour.ask[:n], atol=1e-5)
    assert np.array_equal(batch.behaviour.phrasing[:n], single.behaviour.phrasing[:n])
    prompts = [p for p in pool if p]  # an empty prompt's skeleton is 0 one at a time, mix64(0) in a batch
    vectors, content, skeleton = embedder.embed_texts(pa.array(prompts * 3))
    for i, prompt in enumerate(prompts * 3):
        vector, one_content, one_skeleton = embedder.embed_one(prompt)
        assert np.allclose(vectors[i], vector, atol=1e-6)
        assert (int(content[i]), int(skeleton[i])) == (one_content, one_skeleton)


def test_linking_joins_a_campaign_but_not_a_shared_proxy() -> None:
    rng = random.Random(0)
    records = []
    for j in range(6):
        records += attacker(rng, f"thin-{j}", 12, payment="card-1", ip=f"198.51.100.{j}")
    for i in range(8):
        records += honest_account(rng, f"office-{i}", ip="203.0.113.5")  # one corporate proxy
    clusters = link(table_of_records(records, embedder_for(records))).clusters
    assert clusters == [sorted(f"thin-{j}" for j in range(6))]


def detect(
    tmp_path: Path,
    records: list[dict[str, Any]],
    reference: list[dict[str, Any]],
    labels: dict[str, str],
    **options: Any,
) -> tuple[DetectSummary, dict[str, dict[str, Any]], list[dict[str, Any]]]:
    log = write(tmp_path / "log.jsonl", records)
    write(tmp_path / "labels.jsonl", [{"account": a, "label": lab} for a, lab in labels.items()])
    options.setdefault("checkpoint_hours", 0)
    config = DetectConfig(
        log=str(log),
        out=tmp_path / "out",
        labels=tmp_path / "labels.jsonl",
        reference=str(write(tmp_path / "ref.jsonl", reference)),
        progress=False,
        **options,
    )
    summary = run_detect(config)
    accounts = {
        json.loads(line)["account"]: json.loads(line) for line in (tmp_path / "out" / "accounts.jsonl").open()
    }
    groups = json.loads((tmp_path / "out" / "campaigns.json").read_text())
    return summary, accounts, groups


def test_campaigns_are_flagged_and_honest_users_are_not(tmp_path: Path) -> None:
    records, labels = world(seed=1)
    honest, _ = world(seed=2, honest=400, heavy=False, spread=0)  # a clean period to calibrate on
    summary, accounts, groups = detect(tmp_path, records, honest, labels, target_fpr=0.01)
    metrics = summary.metrics
    assert metrics is not None and metrics.honest_false_positive_rate is not None
    assert metrics.campaigns["c-heavy"].detected and metrics.campaigns["c-thin"].detected
    assert metrics.recall == 1.0 and metrics.honest_false_positive_rate <= 0.01
    assert accounts["heavy"]["flagged_by"] == "own traffic"
    assert any("step-by-step" in reason for reason in accounts["heavy"]["reasons"])
    thin = next(g for g in groups if "thin-0" in g["members"])
    assert len(thin["members"]) >= 30 and thin["flagged"] and any("payment" in r for r in thin["linked_by"])
    assert "<script" not in (tmp_path / "out" / "report.html").read_text()

    # summary.json keeps its keys, and reads back as the summary run_detect returned.
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(written) == SUMMARY_KEYS
    assert list(written["metrics"]) == METRICS_KEYS
    assert list(written["metrics"]["campaigns"]["c-heavy"]) == [
        "accounts",
        "flagged_accounts",
        "detected",
        "median_queries_until_flagged",
    ]
    assert written == summary.to_json() and DetectSummary.from_json(written) == summary


def test_a_campaign_spread_thin_is_flagged_only_as_one(tmp_path: Path) -> None:
    """40 accounts, each three requests under the rate limit: alone each looks ordinary, pooled they
    are one actor sending over a hundred one-off prompts across every topic, never a conversation."""
    rng = random.Random(5)
    records, labels = world(seed=3, heavy=False, spread=0)
    for j in range(40):
        name = f"thin-{j}"
        records += attacker(
            rng,
            name,
            3,
            payment="card-77",
            ip=f"198.51.100.{j % 5}",
            start=START + j * 600,
            cot=False,
            logprobs=False,
        )
        labels[name] = "c-thin"
    records.sort(key=lambda r: r["ts"])
    honest, _ = world(seed=4, honest=400, heavy=False, spread=0)
    summary, accounts, groups = detect(tmp_path, records, honest, labels, target_fpr=0.01)
    group = next(g for g in groups if "thin-0" in g["members"])
    assert sorted(group["members"]) == sorted(f"thin-{j}" for j in range(40)) and group["flagged"]
    thin = [accounts[f"thin-{j}"] for j in range(40)]
    assert all(a["flagged"] for a in thin)
    assert sum(a["flagged_by"] == "own traffic" for a in thin) < 20  # most are caught only through the group
    assert summary.metrics is not None and summary.metrics.honest_false_positive_rate is not None
    assert summary.metrics.honest_false_positive_rate <= 0.01


def test_queries_until_flagged_counts_requests_at_the_first_flag(tmp_path: Path) -> None:
    """The attacker sends one request a minute from the log's first second; checkpoints are hourly and
    it is blatant, so it is flagged at the first checkpoint, having sent exactly 60 requests."""
    rng = random.Random(9)
    honest, labels = world(seed=6, honest=200, heavy=False, spread=0)
    start = min(r["ts"] for r in honest)
    blatant = attacker(rng, "blatant", 300, start=start - 60)
    for i, r in enumerate(blatant):
        r["ts"] = start + 60 * i
    records = sorted(honest + blatant, key=lambda r: r["ts"])
    reference, _ = world(seed=7, honest=400, heavy=False, spread=0)
    summary, accounts, _ = detect(
        tmp_path, records, reference, {**labels, "blatant": "c-1"}, target_fpr=0.01, checkpoint_hours=1.0
    )
    assert accounts["blatant"]["flagged_after_requests"] == 60
    assert summary.metrics is not None and summary.metrics.median_queries_until_flagged == 60


def test_honest_only_false_positive_rate_stays_under_target(tmp_path: Path) -> None:
    """Hand-built honest users (see test_calibration.py for simulated traffic over several seeds)."""
    seed = 11
    reference, _ = world(seed=seed + 100, honest=600, heavy=False, spread=0)
    honest, labels = world(seed=seed, honest=600, heavy=False, spread=0)
    target = 0.01
    summary, accounts, _ = detect(tmp_path, honest, reference, labels, target_fpr=target)
    realised = sum(a["p_value"] <= target for a in accounts.values()) / len(accounts)
    assert realised <= 2 * target  # p-values are calibrated (a binomial margin for 600 accounts)
    assert summary.flagged_accounts <= 0.01 * len(accounts)


def test_prior_is_the_reference_average() -> None:
    rng = random.Random(1)
    records = honest_account(rng, "a") + honest_account(rng, "b")
    raw = table_of_records(records, embedder_for(records)).raw()
    events, trials = raw["single_shot"]
    assert prior_of(raw)["single_shot"] == pytest.approx(float(np.mean(events / trials)))


def test_bad_input(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text(
        '{"ts": 1, "account": "a", "prompt": "x"}\n{"ts": 2, "prompt": "y"}\n'
    )
    with pytest.raises(DataError, match="bad.jsonl:2: 'account' must be a non-empty string"):
        run_detect(DetectConfig(log=str(tmp_path / "bad.jsonl"), out=tmp_path / "o", progress=False))
    pq.write_table(
        pa.Table.from_pylist(
            [{"ts": 1.0, "account": "a", "prompt": '"x"'}, {"ts": 2.0, "account": None, "prompt": '"y"'}]
        ),
        tmp_path / "bad.parquet",
    )
    with pytest.raises(DataError, match="bad.parquet: row 2: 'account'"):
        open_log(tmp_path / "bad.parquet")
    with pytest.raises(ConfigError, match="target_fpr"):
        DetectConfig(log="x.jsonl", out=tmp_path, target_fpr=2)
