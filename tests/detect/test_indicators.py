"""Indicator files: template signatures, what the exported file holds (and does not), the sharing key,
and `distillab detect --indicators` pre-flagging another provider's campaign offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasketch import MinHash

from distillab.detect.indicator_export import export_indicators, flagged_campaigns, labelled_campaigns
from distillab.detect.indicators import IndicatorIndex, IndicatorTally, keyed, read_key
from distillab.detect.record import ip_prefix
from distillab.detect.simulate import SimulateConfig, read_labels, simulate
from distillab.detect.templates import NUM_PERM, SCHEME, SEED, Signer, TemplateIndex, shingles, similarity
from distillab.errors import ConfigError

KEY = b"0123456789abcdef0123456789abcdef"
TRAFFIC = {"accounts": 40, "days": 2.0, "attacker_share": 0.3, "campaigns": ("chain-of-thought", "templated")}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One provider's log, its labels, a detect output flagging its campaigns, and the exported indicators."""
    folder = tmp_path_factory.mktemp("provider")
    log = folder / "traffic.jsonl"
    simulate(SimulateConfig(out=log, seed=22, **TRAFFIC))  # type: ignore[arg-type]
    labels = read_labels(folder / "traffic.labels.jsonl")
    out = folder / "campaigns.indicators.json"
    summary = export_indicators(labelled_campaigns(folder / "traffic.labels.jsonl"), log, KEY, out)
    return {"log": log, "records": load(log), "labels": labels, "indicators": out, "summary": summary}


def test_flagged_campaigns_are_read_from_a_detect_output(tmp_path: Path) -> None:
    rows = [
        {"account": "a", "flagged": True, "flagged_by": "group-1", "requests": 5, "reasons": []},
        {"account": "b", "flagged": True, "flagged_by": "group-1", "requests": 7, "reasons": []},
        {"account": "c", "flagged": False, "requests": 9, "reasons": []},
        {
            "account": "d",
            "flagged": True,
            "flagged_by": "own traffic",
            "requests": 400,
            "features": {"single_shot": 0.987654, "coverage": 3.14159},
            "requests_per_active_day": 123.45,
            "reasons": ["prompts spread over 23 topic clusters"],
        },
    ]
    groups = [
        {
            "id": "group-1",
            "members": ["a", "b", "c"],
            "flagged": True,
            "requests": 21,
            "reasons": ["x"],
            "features": {"single_shot": 0.5},
            "requests_per_active_day": 3.0,
        },
        {"id": "group-2", "members": ["c", "e"], "flagged": False, "requests": 9, "reasons": []},
    ]
    (tmp_path / "accounts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "campaigns.json").write_text(json.dumps(groups))
    found = {c.id: c for c in flagged_campaigns(tmp_path)}
    assert set(found) == {"group-1", "d"} and found["group-1"].members == {"a", "b"}  # c was not flagged
    assert found["d"].kind == "account" and found["d"].requests == 400
    assert found["d"].profile == {"single_shot": 0.99, "coverage": 3.14, "requests_per_active_day": 120.0}


def test_a_signature_is_a_keyed_datasketch_minhash_of_the_template() -> None:
    signer = Signer(KEY)
    text = 'Solve step by step: Grace buys 2 notebooks at $4 each. Say "done" at the end.'
    reference = MinHash(NUM_PERM, SEED, hashfunc=signer.hash, scheme=SCHEME)
    reference.update_batch([s.encode() for s in shingles(text)])
    assert np.array_equal(signer.signature(text), reference.hashvalues)
    # numbers and quoted strings are masked: the same template
    same = 'Solve step by step: Grace buys 17 notebooks at $9.50 each. Say "finished" at the end.'
    assert similarity(signer.signature(text), signer.signature(same)) == 1.0
    other = "Write a short poem about the sea in the style of a pirate, please."
    assert similarity(signer.signature(text), signer.signature(other)) < 0.2
    assert similarity(signer.signature(text), Signer(b"another key of sixteen+").signature(text)) < 0.2
    index = TemplateIndex(0.5)
    index.add(signer.signature(other))
    assert index.best(signer.signature(same)) is None and index.best(signer.signature(other)) == (0, 1.0)


def test_the_exported_file_holds_no_prompt_account_address_or_agent(provider: dict[str, Any]) -> None:
    text = provider["indicators"].read_text()
    data = json.loads(text)
    assert data["format"] == "distillab-indicators" and data["format_version"] == 1
    templated = [i for i in data["indicators"] if len(i["templates"]) >= 5]
    assert templated and provider["summary"].templates_dropped_as_honest > 0
    assert {i["kind"] for i in data["indicators"]} == {"labelled"} and len(data["indicators"]) == 2
    lowered = text.lower()
    words = re.findall(r"[a-z]+", re.sub(r"[0-9a-f]{12,}", " ", lowered))  # the words outside hashes
    in_file = set(zip(words, words[1:], words[2:]))
    for record in provider["records"]:
        assert record["account"] not in text and record["key_id"] not in text
        assert record["ip"] not in text and ip_prefix(record["ip"]).rsplit(".", 1)[0] + "." not in text
        assert record["user_agent"].lower() not in lowered
        prompt = record["messages"][-1]["content"] if record["messages"] else record["prompt"]
        said = re.findall(r"[a-z]+", prompt.lower())
        assert not in_file & set(zip(said, said[1:], said[2:]))  # no three consecutive words of any prompt


def test_a_wrong_sharing_key_is_refused_and_matches_no_network(provider: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="different sharing key"):
        IndicatorIndex.load(provider["indicators"], b"another key of at least sixteen bytes")
    data = json.loads(provider["indicators"].read_text())
    listed = {h for i in data["indicators"] for h in i["networks"]}
    campaign_prefixes = {
        ip_prefix(r["ip"])
        for r in provider["records"]
        if provider["labels"][r["account"]]["label"] != "benign"
    }
    assert any(keyed(KEY, "network", p) in listed for p in campaign_prefixes)
    assert not any(
        keyed(b"another key of at least sixteen bytes", "network", p) in listed for p in campaign_prefixes
    )


def test_matching_is_per_account_with_supporting_network_evidence(provider: dict[str, Any]) -> None:
    index = IndicatorIndex.load(provider["indicators"], KEY)
    tally = IndicatorTally(index, min_requests=3)
    campaign = next(r for r in provider["records"] if provider["labels"][r["account"]]["kind"] == "templated")
    prompts = [
        r["messages"][-1]["content"] for r in provider["records"] if r["account"] == campaign["account"]
    ]
    for prompt in prompts[:10]:
        tally.add("copycat", prompt, ip_prefix(campaign["ip"]), None)
        tally.add(
            "bystander",
            "Can you help me plan a birthday party for my daughter?",
            ip_prefix(campaign["ip"]),
            campaign["user_agent"],
        )
    flagged = tally.flagged()
    assert set(flagged) == {"copycat"}  # a shared network alone flags nothing
    assert re.fullmatch(
        r"matches indicator ind-[0-9a-f]{12}: template similarity 1\.00 \(mean 0\.\d\d\) on \d+ "
        r"requests; its network prefix also listed",
        flagged["copycat"][1],
    )
    assert len(index) == len(json.loads(provider["indicators"].read_text())["indicators"])


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "short.key").write_text("hunter2\n")
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        read_key(tmp_path / "short.key")
    (tmp_path / "ok.key").write_bytes(KEY + b"\n")
    assert read_key(tmp_path / "ok.key") == KEY  # surrounding whitespace is not part of the key


def test_detect_pre_flags_another_providers_campaign_offline(
    provider: dict[str, Any], tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere.jsonl"
    simulate(SimulateConfig(out=other, seed=23, **TRAFFIC))  # type: ignore[arg-type]
    labels = read_labels(tmp_path / "elsewhere.labels.jsonl")
    key_file = tmp_path / "sharing.key"
    key_file.write_bytes(KEY + b"\n")
    exported = tmp_path / "ours.indicators.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillab.cli.main",
            "detect",
            "--log",
            str(other),
            "--out",
            str(tmp_path / "detect"),
            "--indicators",
            str(provider["indicators"]),
            "--indicator-key-file",
            str(key_file),
            "--checkpoint-hours",
            "0",
            "--embedder",
            "lexical",
            "--no-progress",
            "--export-indicators",
            str(exported),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "accounts match an imported indicator" in done.stdout and f"-> {exported}" in done.stdout
    IndicatorIndex.load(exported, KEY)  # what this run flagged: a valid file, shareable in turn
    written = json.loads((tmp_path / "detect" / "summary.json").read_text())
    assert list(written)[-6:] == [
        "notes",
        "indicator_matches",
        "seconds",
        "records_per_s",
        "certification",
        "embedder",
    ]
    rows = load(tmp_path / "detect" / "accounts.jsonl")
    by_indicator = {r["account"] for r in rows if (r["flagged_by"] or "").startswith("indicator ind-")}
    kinds = {labels[a]["kind"] for a in by_indicator}
    assert "templated" in kinds and all(labels[a]["label"] != "benign" for a in by_indicator)
    assert any("matches indicator ind-" in reason for r in rows for reason in r["reasons"])
