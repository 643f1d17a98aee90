"""Behavioural linking: a hydra whose accounts share no payment id, org or network is linked on how it
behaves and caught as a group, while honest users of one kind stay apart."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from detect_world import hydra, reasoning_benchmark, tutor, world

from distillab.detect.calibrate import calibrate, collect, open_log
from distillab.detect.config import DetectConfig
from distillab.detect.embeddings import Lexical
from distillab.detect.features import StatsTable
from distillab.detect.linking import ALIKE, link
from distillab.detect.logs import from_arrow, from_records
from distillab.detect.run import run_detect
from distillab.detect.text import Embedder

HYDRA = 30


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """An honest reference of 384 accounts whose most extreme ones are a benchmark runner and a tutoring
    app, and a log of honest users, another benchmark runner and tutoring app, and a 30-account hydra."""
    rng = random.Random(4)
    work = tmp_path_factory.mktemp("hydra")
    reference, _ = world(seed=40, honest=382, heavy=False, spread=0)
    reference += reasoning_benchmark(rng, "bench-ref") + tutor(rng, "tutor-ref")
    log, labels = world(seed=41, honest=150, heavy=False, spread=0)
    log += reasoning_benchmark(rng, "bench-log") + tutor(rng, "tutor-log")
    labels["bench-log"] = labels["tutor-log"] = "benign"
    log += hydra(rng, HYDRA)
    labels.update({f"hydra-{j}": "c-hydra" for j in range(HYDRA)})
    log.sort(key=lambda r: r["ts"])
    write(work / "labels.jsonl", [{"account": a, "label": lab} for a, lab in labels.items()])
    return write(work / "ref.jsonl", reference), write(work / "log.jsonl", log), labels


def test_hydra_is_linked_on_behaviour_alone(scenario: tuple[Path, Path, dict[str, str]]) -> None:
    reference_path, log_path, _ = scenario
    embedder, batches = open_log(reference_path)
    reference = calibrate(collect(batches, embedder))
    assert reference.behaviour is not None
    _, batches = open_log(log_path, embedder)
    table = collect(batches, embedder)
    links = link(table, reference.behaviour)
    hydra_accounts = sorted(f"hydra-{j}" for j in range(HYDRA))
    assert hydra_accounts in links.clusters
    i = links.clusters.index(hydra_accounts)
    alike = links.alike[i]
    assert alike is not None and alike.startswith(f"{HYDRA} accounts behave alike")
    assert "closest honest reference account" in alike
    pair_reasons = {
        r for pair, reasons in links.reasons.items() if pair <= set(hydra_accounts) for r in reasons
    }
    assert ALIKE in pair_reasons
    assert not any(r.startswith(("same payment", "same org", "shared network")) for r in pair_reasons)
    # No honest account is linked to anyone on behaviour: the reference has their like.
    assert all(links.alike[j] is None for j in range(len(links.clusters)) if j != i)

    # Without behaviour, nothing joins them: no payment id, org or network in common.
    table.behaviour = None
    assert not any(set(c) & set(hydra_accounts) for c in link(table).clusters)


def test_hydra_is_flagged_as_a_group_that_no_member_could_be_alone(
    scenario: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Each hydra account is beaten by the honest tutoring app in every behaviour: p_f >= 2/385 alone,
    3 x that after Bonferroni, never under the 0.1% target. Together, 30 accounts at the honest edge
    are far beyond it."""
    reference_path, log_path, labels = scenario
    summary = run_detect(
        DetectConfig(
            log=str(log_path),
            out=tmp_path,
            labels=log_path.with_name("labels.jsonl"),
            reference=str(reference_path),
            checkpoint_hours=0,
            progress=False,
        )
    )
    accounts = {
        json.loads(line)["account"]: json.loads(line) for line in (tmp_path / "accounts.jsonl").open()
    }
    groups = json.loads((tmp_path / "campaigns.json").read_text())
    group = next(g for g in groups if "hydra-0" in g["members"])
    assert len(group["members"]) == HYDRA and group["flagged"] and group["p_value"] < 1e-30
    assert group["rank_test"]["j"] >= HYDRA // 2 and group["rank_test"]["beaten_by"] <= 5
    assert group["reasons"][0].startswith(f"{group['rank_test']['j']} of its {HYDRA} accounts")
    assert any("behave alike" in r for r in group["linked_by"])
    for j in range(HYDRA):
        account = accounts[f"hydra-{j}"]
        assert min(account["p_by_behaviour"].values()) >= 2 / 385 - 1e-12  # alone: beaten by the tutor
        assert account["flagged_by"] == group["id"]
    assert summary.metrics is not None and summary.metrics.recall == 1.0
    assert summary.metrics.honest_false_positive_rate == 0.0
    assert not accounts["bench-log"]["flagged"] and not accounts["tutor-log"]["flagged"]
    assert summary.embedder == "lexical"


@pytest.mark.parametrize("seed", [2, 3])
def test_honest_users_of_one_kind_are_not_linked_on_behaviour(seed: int, tmp_path: Path) -> None:
    reference_records, _ = world(seed=seed + 50, honest=400, heavy=False, spread=0)
    log_records, _ = world(seed=seed, honest=300, heavy=False, spread=0)
    embedder, batches = open_log(write(tmp_path / "reference.jsonl", reference_records))
    reference = calibrate(collect(batches, embedder))
    table = collect(iter([from_records(log_records)]), embedder)
    links = link(table, reference.behaviour)
    assert all(alike is None for alike in links.alike)


def test_lexical_behaviour_reuses_the_topic_vectors_exactly() -> None:
    rng = random.Random(5)
    records = hydra(rng, 3, requests=150) + reasoning_benchmark(rng, "b", items=80)
    embedder = Embedder.fit([r["messages"][-1]["content"] for r in records], k=4)
    reused, recomputed = StatsTable(embedder), StatsTable(embedder, Lexical(copy.deepcopy(embedder)))
    for table in (reused, recomputed):
        for start in range(0, len(records), 100):
            table.update(from_records(records[start : start + 100]))
    assert reused.behaviour is not None and recomputed.behaviour is not None
    assert reused.behaviour.asked.sum() == recomputed.behaviour.asked.sum() > 0
    assert np.allclose(reused.behaviour.ask, recomputed.behaviour.ask, atol=1e-5)


def test_request_style_is_read_alike_from_records_and_from_parquet(tmp_path: Path) -> None:
    rng = random.Random(2)
    records = reasoning_benchmark(rng, "b", items=3) + hydra(rng, 2, requests=3)
    records[0]["messages"] = [
        {"role": "system", "content": 'Be "brief".\nThanks'},
        *records[0]["messages"],
    ]
    records[1]["params"] = {"temperature": 0, "max_tokens": 1, "logprobs": True, "top_logprobs": 5, "seed": 9}
    records[2]["prompt"] = records[2].pop("messages")[0]["content"]
    flat = [
        {
            **r,
            **{
                k: json.dumps(r[k]) if r.get(k) is not None else None
                for k in ("messages", "params", "prompt")
            },
        }
        for r in records
    ]
    pq.write_table(pa.Table.from_pylist(flat), tmp_path / "log.parquet")
    batch = pq.ParquetFile(tmp_path / "log.parquet").read()
    style = from_arrow(batch.to_batches()[0], where="log", first_row=0).style
    assert list(style) == list(from_records(records).style)
    assert style[0] != style[3]  # a system prompt changes the style
    assert style[1] == style[3]  # a per-request seed does not
    assert style[2] != style[3]  # a completions request is another style
    assert len(set(style[-6:])) == 1  # the hydra's accounts: one style
