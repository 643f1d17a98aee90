"""`distillab simulate`: determinism, the log schema, labels kept apart, the knobs, each persona's and
campaign's signature, file formats, the CLI, and driving a real gateway on loopback."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from distillab.detect.simulate import CAMPAIGNS, PERSONAS, SimulateConfig, drive, read_labels, simulate
from distillab.detect.simulate.live import request_body
from distillab.detect.simulate.world import EPOCH
from distillab.errors import ConfigError
from distillab.openai_wire.schemas import ChatCompletionRequest, CompletionRequest

FAKE_OPENAI = Path(__file__).parents[1] / "data" / "fake_openai.py"
SMALL = {"accounts": 60, "days": 2.0, "seed": 1}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]], Path]:
    out = tmp_path_factory.mktemp("sim") / "traffic.jsonl"
    simulate(SimulateConfig(out=out, **SMALL))
    return load(out), read_labels(out.with_name("traffic.labels.jsonl")), out


def by_account(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        found[record["account"]].append(record)
    return found


def test_same_config_gives_identical_bytes(world: Any, tmp_path: Path) -> None:
    _, _, first = world
    again = tmp_path / "traffic.jsonl"
    simulate(SimulateConfig(out=again, **SMALL))
    assert again.read_bytes() == first.read_bytes()
    assert (
        again.with_name("traffic.labels.jsonl").read_bytes()
        == first.with_name("traffic.labels.jsonl").read_bytes()
    )
    other = tmp_path / "other.jsonl"
    simulate(SimulateConfig(out=other, **{**SMALL, "seed": 2}))
    assert other.read_bytes() != first.read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary files left


def test_records_follow_the_request_log_schema(world: Any) -> None:
    records, _, _ = world
    optional_text = ("org", "payment_id")
    start = EPOCH + SMALL["seed"] * 86400.0
    for record in records:
        assert list(record)[:9] == [
            "ts",
            "account",
            "key_id",
            "ip",
            "user_agent",
            "org",
            "payment_id",
            "endpoint",
            "model",
        ]
        assert isinstance(record["ts"], float) and start <= record["ts"] < start + SMALL["days"] * 86400
        for name in ("account", "key_id", "ip", "user_agent", "model"):
            assert isinstance(record[name], str) and record[name], name
        assert all(record[name] is None or isinstance(record[name], str) for name in optional_text)
        assert record["endpoint"] in ("/v1/chat/completions", "/v1/completions")
        chat = record["endpoint"] == "/v1/chat/completions"
        assert (record["messages"] is not None) == chat and (record["prompt"] is not None) == (not chat)
        if chat:
            assert all(
                set(m) == {"role", "content"} and isinstance(m["content"], str) for m in record["messages"]
            )
            assert record["messages"][-1]["role"] == "user"
            ChatCompletionRequest.model_validate(request_body(record))  # what the gateway would accept
        else:
            assert isinstance(record["prompt"], str)
            CompletionRequest.model_validate(request_body(record))
        assert isinstance(record["params"], dict)
        assert record["status"] in (200, 429)
        assert isinstance(record["response"], str) if record["status"] == 200 else record["response"] is None
        assert isinstance(record["prompt_tokens"], int) and record["prompt_tokens"] >= 1
        assert isinstance(record["completion_tokens"], int) and record["completion_tokens"] >= 0
        assert isinstance(record["latency_ms"], float) and record["latency_ms"] > 0
    stamps = [r["ts"] for r in records]
    assert stamps == sorted(stamps)
    assert {r["endpoint"] for r in records} == {"/v1/chat/completions", "/v1/completions"}
    assert 0 < sum(r["status"] == 429 for r in records) < 0.02 * len(records)


def test_labels_cover_exactly_the_logged_accounts_and_stay_out_of_the_log(world: Any) -> None:
    records, labels, _ = world
    assert set(labels) == {r["account"] for r in records}
    assert not any({"label", "kind", "campaign"} & set(r) for r in records)
    assert {v["kind"] for v in labels.values()} == set(PERSONAS) | set(CAMPAIGNS)
    for value in labels.values():
        expected = (
            "benign" if value["kind"] in PERSONAS else f"campaign-{CAMPAIGNS.index(value['kind']) + 1:02d}"
        )
        assert value["label"] == expected
    # Names, keys and orgs are drawn alike for everyone: nothing in them gives a label away.
    assert all(re.fullmatch(r"acct-[0-9a-f]{8}", name) for name in labels)
    text = json.dumps(records[:2000])
    assert "campaign" not in text and "benign" not in text


def test_attacker_share_follows_the_knob(world: Any, tmp_path: Path) -> None:
    records, labels, _ = world
    share = sum(labels[r["account"]]["label"] != "benign" for r in records) / len(records)
    assert share == pytest.approx(0.05, abs=0.005)
    out = tmp_path / "t.jsonl"
    result = simulate(
        SimulateConfig(out=out, accounts=30, days=1, attacker_share=0.3, campaigns="heavy,templated")
    )
    assert result.attacker_share == pytest.approx(0.3, abs=0.01)
    assert {
        v["kind"] for v in read_labels(out.with_name("t.labels.jsonl")).values() if v["label"] != "benign"
    } == {"heavy", "templated"}
    none = simulate(SimulateConfig(out=out, accounts=30, days=1, attacker_share=0.0))
    assert none.campaign_records == 0 and none.campaign_accounts == 0


def _busiest_minute(stamps: list[float]) -> int:
    t = np.array(stamps)
    return int((np.arange(t.size) - np.searchsorted(t, t - 60.0, side="right") + 1).max())


def test_campaign_accounts_stay_under_the_rate_limit(world: Any, tmp_path: Path) -> None:
    records, labels, _ = world
    for account, mine in by_account(records).items():
        if labels[account]["label"] != "benign":
            assert _busiest_minute([r["ts"] for r in mine]) <= 60, account
    out = tmp_path / "tight.jsonl"
    simulate(SimulateConfig(out=out, accounts=20, days=1, attacker_share=0.4, rate_limit_rpm=4))
    tight, tight_labels = load(out), read_labels(out.with_name("tight.labels.jsonl"))
    busiest = [
        _busiest_minute([r["ts"] for r in mine])
        for account, mine in by_account(tight).items()
        if tight_labels[account]["label"] != "benign"
    ]
    assert max(busiest) <= 4 and max(busiest) >= 3  # close to the limit, never over it


def test_honest_users_hold_multi_turn_conversations(world: Any) -> None:
    records, labels, _ = world
    grown = 0
    for account, mine in by_account(records).items():
        if labels[account]["kind"] not in ("chat", "coding", "doc-qa", "power-user"):
            continue
        for earlier, later in itertools.pairwise(mine):
            before, after = earlier["messages"], later["messages"]
            if (
                len(after) == len(before) + 2
                and after[: len(before)] == before
                and after[len(before)]["role"] == "assistant"
            ):
                assert after[len(before)]["content"] == earlier["response"]  # the reply it got is carried on
                grown += 1
    assert grown >= 50
    turns = [
        sum(m["role"] == "user" for m in r["messages"])
        for r in records
        if labels[r["account"]]["kind"] == "chat"
    ]
    assert max(turns) >= 4
    prompts = {
        r["messages"][-1]["content"]
        for r in records
        if labels[r["account"]]["label"] == "benign" and r["messages"]
    }
    assert len(prompts) > 1000  # varied text, not "prompt 17"


def test_benchmark_teams_are_systematic_and_templated(world: Any) -> None:
    records, labels, _ = world
    accounts = by_account(records)
    chat_volume = np.median([len(accounts[a]) for a, v in labels.items() if v["kind"] == "chat"])
    for account in [a for a, v in labels.items() if v["kind"] == "benchmark"]:
        mine = accounts[account]
        prompts = [r["prompt"] if r["prompt"] is not None else r["messages"][-1]["content"] for r in mine]
        prefix = os.path.commonprefix(prompts)
        assert len(prefix) >= 40  # one instruction and the same few-shot examples before every item
        assert len(set(prompts)) >= min(100, len(prompts) // 3)
        assert all(r["params"]["temperature"] == 0.0 for r in mine)
        assert len(mine) > 5 * chat_volume


def test_campaign_strategies_show_their_signatures(world: Any) -> None:
    records, labels, _ = world
    kind_of = {a: v["kind"] for a, v in labels.items()}
    of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        of[kind_of[record["account"]]].append(record)
    harvest = of["logprob-harvest"]
    chat = [r["params"] for r in harvest if r["messages"]]
    assert chat and all(
        p["logprobs"] is True and p["top_logprobs"] == 20 and p["n"] > 1 and p["temperature"] == 1.0
        for p in chat
    )
    assert any(r["prompt"] is not None and r["params"]["logprobs"] == 20 for r in harvest)
    cot = of["chain-of-thought"]
    assert all(
        re.search(r"step|reasoning|thinking", r["messages"][-1]["content"], re.IGNORECASE) for r in cot
    )
    assert np.mean([len(r["response"] or "") for r in cot]) > 2 * np.mean(
        [len(r["response"] or "") for r in of["chat"]]
    )
    many = of["many-accounts"]
    assert len({r["account"] for r in many}) >= 20 and len({labels[r["account"]]["label"] for r in many}) == 1
    assert len({r["user_agent"] for r in many}) == 1  # one script behind all of them
    templated = [r["messages"][-1]["content"] for r in of["templated"]]
    assert len({p.split(" ")[0] for p in templated}) <= 5  # a few templates, many fillers
    # Shared proxy: campaign accounts share the /24 and the user agent of honest staff behind it.
    honest_nets = {
        (r["ip"].rsplit(".", 1)[0], r["user_agent"])
        for r in records
        if labels[r["account"]]["label"] == "benign"
    }
    assert {(r["ip"].rsplit(".", 1)[0], r["user_agent"]) for r in of["shared-proxy"]} <= honest_nets
    slow_days = {int(r["ts"] // 86400) for r in of["low-and-slow"]}
    assert len(slow_days) == 2  # every day


def test_parquet_and_jsonl_hold_the_same_records(world: Any, tmp_path: Path) -> None:
    import datasets
    import pyarrow.parquet as pq

    records, _, jsonl = world
    out = tmp_path / "traffic.parquet"
    simulate(SimulateConfig(out=out, **SMALL))
    table = pq.read_table(out)
    assert table.column_names == list(records[0])
    rows = table.to_pylist()
    for row in rows:
        for name in ("messages", "prompt", "params"):
            row[name] = None if row[name] is None else json.loads(row[name])
    assert rows == records
    assert (
        out.with_name("traffic.labels.jsonl").read_bytes()
        == jsonl.with_name("traffic.labels.jsonl").read_bytes()
    )
    cache = str(tmp_path / "hf")
    from_parquet = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=cache)
    from_json = datasets.load_dataset("json", data_files=str(jsonl), split="train", cache_dir=cache)
    assert len(from_parquet) == len(from_json) == len(records)
    assert (
        from_json[0]["account"] == records[0]["account"]
        and from_json[0]["messages"] == records[0]["messages"]
    )


def test_labels_as_csv_and_max_requests(tmp_path: Path) -> None:
    out, labels = tmp_path / "t.jsonl", tmp_path / "answers.csv"
    result = simulate(SimulateConfig(out=out, labels=labels, accounts=20, days=1, max_requests=300))
    assert result.records == 300 and len(load(out)) == 300
    assert labels.read_text().startswith("account,label,kind\n")
    assert set(read_labels(labels)) == {r["account"] for r in load(out)}


def test_bad_config_names_every_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        SimulateConfig(
            out=tmp_path / "t.jsonl", attacker_share=1.5, campaigns="heavy,sneaky", days=0, rate_limit_rpm=0
        )
    problems = " ".join(caught.value.problems)
    for name in ("attacker_share", "campaigns: unknown 'sneaky'", "days", "rate_limit_rpm"):
        assert name in problems
    for kwargs, field in [
        ({"out": tmp_path / "t.txt"}, "out"),
        ({}, "out"),
        ({"out": tmp_path / "t.jsonl", "labels": tmp_path / "l.txt"}, "labels"),
        ({"gateway": "127.0.0.1:8000"}, "gateway"),
        ({"out": tmp_path / "no" / "t.jsonl"}, "out"),
    ]:
        with pytest.raises(ConfigError, match=field):
            SimulateConfig(**kwargs)


def test_cli_exit_codes(tmp_path: Path) -> None:
    out = tmp_path / "cli.parquet"
    command = [sys.executable, "-m", "distillab.cli.main", "simulate"]
    good = subprocess.Popen(
        [
            *command,
            "--out",
            str(out),
            "--accounts",
            "15",
            "--days",
            "0.5",
            "--campaigns",
            "heavy,paraphrase",
            "--attacker-share",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    bad = subprocess.Popen(
        [*command, "--out", str(tmp_path / "x.jsonl"), "--attacker-share", "1.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    (good_out, good_err), (_, bad_err) = good.communicate(timeout=120), bad.communicate(timeout=120)
    assert good.returncode == 0, good_err
    assert out.is_file() and out.with_name("cli.labels.jsonl").is_file()
    assert "labels:" in good_out and "requests from" in good_out
    assert bad.returncode == 1 and "attacker_share" in bad_err and "Traceback" not in bad_err


@pytest.fixture()
def fake_upstream() -> Iterator[str]:
    """The fake OpenAI server in a process of its own, on the free port it bound and announced."""
    process = subprocess.Popen(
        [sys.executable, str(FAKE_OPENAI), "0", "--canned"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = re.fullmatch(r"listening on (http://\S+)\n", process.stdout.readline())
        assert announced, "fake upstream did not start"
        base = announced.group(1)
        assert httpx.get(base + "/health", timeout=30).status_code == 200
        yield base + "/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_drive_sends_the_traffic_through_a_real_gateway(fake_upstream: str, tmp_path: Path) -> None:
    from distillab.db.store import Store
    from distillab.gateway.app import create_gateway
    from distillab.serving.background import run_in_background

    labels = tmp_path / "labels.jsonl"
    config = SimulateConfig(
        labels=labels,
        accounts=25,
        days=1,
        attacker_share=0.2,
        max_requests=50,
        gateway="http://placeholder",
        seed=4,
    )
    expected = tmp_path / "expected.jsonl"
    simulate(SimulateConfig(out=expected, accounts=25, days=1, attacker_share=0.2, max_requests=50, seed=4))
    sent = load(expected)
    with Store(tmp_path / "g.db") as store:
        with run_in_background(create_gateway(store, fake_upstream, admin_token="t")) as base:
            result = drive(config, base, admin_token="t")
        logged = list(store.iter_logs())
        keys = store.list_keys()
    assert result.sent == 50 and result.statuses == {"200": 50}
    assert len(logged) == 50
    seen = sorted(
        (r["account"], r["user_agent"], r["endpoint"], r["model"], json.dumps(r["params"])) for r in logged
    )
    assert seen == sorted(
        (r["account"], r["user_agent"], r["endpoint"], r["model"], json.dumps(r["params"])) for r in sent
    )
    assert {r["account"] for r in logged} == set(read_labels(labels)) == {k.account for k in keys}
    assert result.accounts == len(keys)
    meta = {r["account"]: (r["org"], r["payment_id"]) for r in sent}
    assert all((k.org, k.payment_id) == meta[k.account] for k in keys)
    assert all(r["ip"] == "127.0.0.1" for r in logged)
