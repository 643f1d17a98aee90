"""The live detector in a real gateway on loopback: simulated honest and campaign traffic replayed with
the official openai client; the campaign ends up degraded or throttled with reasons, honest users stay
allowed, an admin's decision wins; and a second gateway pre-flags a campaign from an indicator file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from live_world import FakeModel, busiest, reference_log, replay, traffic

from distillab.db.store import Store
from distillab.detect.indicator_export import export_indicators, labelled_campaigns
from distillab.detect.indicators import read_key
from distillab.detect.live_config import LiveDetectConfig
from distillab.detect.run import prepare_reference
from distillab.gateway.app import create_gateway
from distillab.gateway.detector import LiveDetector
from distillab.serving.background import run_in_background

ADMIN = "admin-secret-for-tests"
KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("live")
    records, labels, log = traffic(folder)
    return {
        "reference": prepare_reference(reference_log(folder)),
        "records": records,
        "labels": labels,
        "log": log,
        "folder": folder,
    }


@pytest.fixture(scope="module")
def model() -> Iterator[tuple[FakeModel, str]]:
    fake = FakeModel()
    with run_in_background(fake.app) as url:
        yield fake, url + "/v1"


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "gateway.db"))
    yield s
    s.close()


def scored(detector: LiveDetector) -> None:
    """Wait until every request answered so far has been folded and scored (and decided on)."""
    assert detector.wait_for_rounds(detector.rounds + 2, timeout=60), "no scoring round finished"


def status(client: openai.OpenAI, record: dict[str, Any]) -> int:
    try:
        replay(client, record)
        return 200
    except openai.APIStatusError as exc:
        return exc.status_code


def client(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)


def test_a_campaign_is_degraded_with_reasons_and_an_honest_user_stays_allowed(
    world: dict[str, Any], model: Any, store: Store
) -> None:
    fake, upstream = model
    records, labels = world["records"], world["labels"]
    honest, campaign = busiest(records, labels, "chat"), busiest(records, labels, "chain-of-thought")
    keys = {name: store.create_key(name)[1] for name in (honest, campaign)}
    detector = LiveDetector(
        LiveDetectConfig(action="degrade", every=0.3, target_fpr=0.02), world["reference"]
    )
    with run_in_background(create_gateway(store, upstream, admin_token=ADMIN, detector=detector)) as base:
        clients = {name: client(base, key) for name, key in keys.items()}
        for i in range(60):  # interleaved, as they would arrive
            replay(clients[campaign], records[campaign][i])
            if i < len(records[honest]):
                replay(clients[honest], records[honest][i])
        scored(detector)
        assert store.get_state(campaign)[0] == "degrade"
        asked_before = len(fake.asked)
        later = replay(
            clients[campaign],
            {**records[campaign][60], "params": {"max_tokens": 4096, "logprobs": True, "top_logprobs": 5}},
        )
        metrics = httpx.get(base + "/metrics").text
    info = store.state_info(campaign)
    assert info["by"] == "detector" and info["reason"].startswith("live detector")
    assert "step-by-step reasoning" in info["reason"] or "topic clusters" in info["reason"]
    assert later.usage.completion_tokens <= 64  # degraded: short answers, no log-probabilities
    assert fake.asked[asked_before]["max_tokens"] == 64 and "logprobs" not in fake.asked[asked_before]
    assert store.state_info(honest) == {"state": "allow", "reason": None, "by": None, "changed": None}
    assert 'distillab_detector_flags_total{by="detector",state="degrade"} 1.0' in metrics
    assert "distillab_detector_scoring_seconds" in metrics and "distillab_detector_rounds_total" in metrics
    decisions = store.list_decisions()
    assert [(d["account"], d["decision"], d["by"]) for d in decisions] == [(campaign, "degrade", "detector")]


def test_an_admin_decision_wins_over_the_detector(world: dict[str, Any], model: Any, store: Store) -> None:
    _, upstream = model
    records, labels = world["records"], world["labels"]
    campaign = records[busiest(records, labels, "chain-of-thought")]
    keys = {name: store.create_key(name)[1] for name in ("reviewed", "banned", "fresh")}
    store.set_state("reviewed", "allow", "reviewed by the abuse team: a research lab", "admin")
    store.set_state("banned", "block", "chargeback fraud", "admin")
    detector = LiveDetector(
        LiveDetectConfig(action="throttle", every=0.3, target_fpr=0.02), world["reference"]
    )
    with run_in_background(create_gateway(store, upstream, admin_token=ADMIN, detector=detector)) as base:
        clients = {name: client(base, key) for name, key in keys.items()}
        codes: dict[str, list[int]] = {name: [] for name in keys}
        for record in campaign[
            :40
        ]:  # three accounts sending one campaign's prompts: linked, flagged together
            for name in keys:
                codes[name].append(status(clients[name], record))
        scored(detector)
        assert store.get_state("fresh")[0] == "throttle"
        assert detector.decided >= {"reviewed", "banned", "fresh"}
        # a throttled account keeps a tenth of the limits (6 requests a minute here): 429 soon after
        later = [status(clients["fresh"], record) for record in campaign[40:52]]
    assert 429 in later and set(codes["banned"]) == {403} and set(codes["reviewed"]) == {200}
    assert store.state_info("reviewed")["state"] == "allow" and store.state_info("reviewed")["by"] == "admin"
    assert store.state_info("banned") == {
        **store.state_info("banned"),
        "state": "block",
        "by": "admin",
        "reason": "chargeback fraud",
    }
    assert store.state_info("fresh")["by"] == "detector" and store.state_info("fresh")["reason"].startswith(
        "live"
    )


def test_a_second_gateway_pre_flags_a_campaign_from_an_indicator_file(
    world: dict[str, Any], model: Any, store: Store, tmp_path: Path
) -> None:
    _, upstream = model
    records = world["records"]
    key_file = tmp_path / "sharing.key"
    key_file.write_bytes(KEY + b"\n")
    indicators = tmp_path / "campaigns.indicators.json"  # this provider's campaigns, as its labels confirm
    export_indicators(
        labelled_campaigns(world["log"].with_name("traffic.labels.jsonl")),
        world["log"],
        read_key(key_file),
        indicators,
    )

    elsewhere, other_labels, _ = traffic(tmp_path / "elsewhere", seed=23)  # another provider's traffic
    campaign, honest = (
        busiest(elsewhere, other_labels, "templated"),
        busiest(elsewhere, other_labels, "coding"),
    )
    keys = {name: store.create_key(name)[1] for name in (campaign, honest)}
    config = LiveDetectConfig(
        action="block",
        every=0.3,
        indicators=indicators,
        indicator_key_file=key_file,
        indicator_min_requests=5,
    )
    detector = LiveDetector.load(config)  # indicators only: no reference needed
    with run_in_background(create_gateway(store, upstream, admin_token=ADMIN, detector=detector)) as base:
        clients = {name: client(base, key) for name, key in keys.items()}
        codes: dict[str, list[int]] = {name: [] for name in keys}
        for i in range(30):
            for name in keys:
                if i < len(elsewhere[name]):
                    codes[name].append(status(clients[name], elsewhere[name][i]))
        scored(detector)
        assert store.get_state(campaign)[0] == "block"
        scored(detector)  # more rounds: the honest account must still be untouched
        assert status(clients[campaign], elsewhere[campaign][30]) == 403
    assert set(codes[honest]) == {200} and codes[campaign][:5] == [200] * 5
    reason = store.state_info(campaign)["reason"]
    assert reason.startswith("live detector: matches indicator ind-") and "template similarity" in reason
    assert store.get_state(honest)[0] == "allow"
    assert not records.keys() & elsewhere.keys()  # different accounts: only the templates carried over


def test_a_restarted_gateway_keeps_its_evidence_from_the_log(
    world: dict[str, Any], model: Any, store: Store
) -> None:
    _, upstream = model
    records, labels = world["records"], world["labels"]
    honest, campaign = busiest(records, labels, "chat"), busiest(records, labels, "chain-of-thought")
    keys = {name: store.create_key(name)[1] for name in (honest, campaign)}
    # The first gateway never gets to score (its round is an hour away): it only logs.
    first = LiveDetector(LiveDetectConfig(action="degrade", every=3600, target_fpr=0.02), world["reference"])
    with run_in_background(create_gateway(store, upstream, detector=first)) as base:
        clients = {name: client(base, key) for name, key in keys.items()}
        for i in range(60):
            replay(clients[campaign], records[campaign][i])
            if i < len(records[honest]):
                replay(clients[honest], records[honest][i])
    assert store.get_state(campaign)[0] == "allow"
    logged = store.last_log_id()

    after = records[honest][60:63]  # served after a restart: observed, not replayed
    assert len(after) == 3

    def restarted(hours: float, action: str = "degrade") -> LiveDetector:
        detector = LiveDetector(
            LiveDetectConfig(action=action, every=0.3, target_fpr=0.02, replay_hours=hours),
            world["reference"],
        )
        table = detector.table
        assert table is not None
        earlier = sum(1 for _ in store.iter_logs(account=honest)) if hours else 0
        with run_in_background(create_gateway(store, upstream, detector=detector)) as base:
            for record in after:
                replay(client(base, keys[honest]), record)
            scored(detector)
            # folded: what the replay brought and the 3 served since
            assert honest in table.index and table.stats(honest).n == earlier + 3
            if hours and action == "degrade":
                assert store.get_state(campaign)[0] == "degrade"
                assert (
                    f"distillab_detector_replayed_requests {float(detector.replayed)}"
                    in httpx.get(base + "/metrics").text
                )
        return detector

    blank = restarted(0)  # no replay: no evidence against the campaign, which sends nothing more
    assert store.get_state(campaign)[0] == "allow" and blank.replayed == 0
    assert blank.table is not None and campaign not in blank.table.index
    kept = restarted(24)
    assert kept.replayed == logged + 3 and kept.table is not None and kept.table.stats(campaign).n == 60
    info = store.state_info(campaign)
    assert info["by"] == "detector" and info["reason"].startswith("live detector")
    assert store.get_state(honest)[0] == "allow"
    # A third start, only flagging, recalls the (stronger) decision from the store and does not flag again.
    again = restarted(24, action="flag")
    assert campaign in again.decided
    assert [(d["account"], d["by"]) for d in store.list_decisions()] == [(campaign, "detector")]


def test_the_replay_reads_only_the_window_and_what_was_logged_before_the_start(store: Store) -> None:
    now = time.time()
    store.create_key("a")
    old = {
        "ts": now - 30 * 3600,
        "account": "a",
        "endpoint": "/v1/completions",
        "status": 200,
        "prompt": "long ago",
        "params": {},
        "model": "m",
    }
    store.log_requests([old, {**old, "ts": now - 3600, "prompt": "an hour ago"}])
    detector = LiveDetector(LiveDetectConfig(indicators=None, replay_hours=24))
    seen: list[list[dict[str, Any]]] = []
    detector.fold = seen.append  # type: ignore[method-assign]
    detector.prepare(store)
    store.log_requests([{**old, "ts": now, "prompt": "after the start"}])  # the gateway observes this one
    assert detector.replay(store, now=now) == 1
    assert [r["prompt"] for batch in seen for r in batch] == ["an hour ago"]
    assert detector.replay(store) == 1 and len(seen) == 2  # once only: nothing more read


def test_a_restart_recalls_decisions_as_strong_as_its_action_and_stops_replaying_on_shutdown(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("flagged", "degraded", "by-admin"):
        store.create_key(name)
    store.note_decision("flagged", "flag", "live detector: ...", "detector")
    store.escalate_state("degraded", "degrade", "live detector: ...", "detector")
    store.set_state("by-admin", "block", "fraud", "admin")

    def recalled(action: str) -> set[str]:
        detector = LiveDetector(LiveDetectConfig(indicators=None, action=action))
        detector.prepare(store)
        return detector.decided

    assert recalled("flag") == {"flagged", "degraded"}
    assert recalled("degrade") == {"degraded"}
    assert recalled("block") == set()  # a flag run, then a restart that blocks: the flagged are judged anew
    store.log_requests(
        [
            {
                "ts": time.time(),
                "account": "flagged",
                "endpoint": "/v1/completions",
                "status": 200,
                "prompt": f"p{i}",
                "params": {},
                "model": "m",
            }
            for i in range(5)
        ]
    )
    monkeypatch.setattr("distillab.gateway.detector.REPLAY_BATCH", 2)
    detector = LiveDetector(LiveDetectConfig(indicators=None))
    detector.prepare(store)
    detector.stopping.set()  # the gateway is shutting down
    assert detector.replay(store) == 0


def test_the_gateway_replays_in_steps_folding_what_it_serves_meanwhile(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.log_requests(
        [
            {
                "ts": time.time(),
                "account": "a",
                "endpoint": "/v1/completions",
                "status": 200,
                "prompt": f"logged {i}",
                "params": {},
                "model": "m",
            }
            for i in range(5)
        ]
    )
    monkeypatch.setattr("distillab.gateway.detector.REPLAY_BATCH", 2)
    detector = LiveDetector(LiveDetectConfig(indicators=None))
    folded: list[list[str]] = []
    detector.fold = lambda records: folded.append([r["prompt"] for r in records])  # type: ignore[method-assign]
    detector.prepare(store)
    steps = 0
    while detector.replay_until is not None:
        detector.replay_step(store, [{"prompt": f"served {steps}"}])
        steps += 1
    assert steps == 3 and detector.replayed == 5
    assert folded == [
        ["served 0"],
        ["logged 0", "logged 1"],
        ["served 1"],
        ["logged 2", "logged 3"],
        ["served 2"],
        ["logged 4"],
    ]


def test_escalate_state_never_lowers_a_state_nor_overrides_an_admin(store_url: str) -> None:
    with Store(store_url) as shared:
        for name in ("plain", "reviewed", "degraded"):
            shared.create_key(name)
        shared.set_state("reviewed", "allow", "reviewed: a university lab", "admin")
        assert shared.escalate_state("plain", "throttle", "r1", "detector")
        assert not shared.escalate_state("plain", "throttle", "again", "detector")  # not higher
        assert shared.escalate_state("plain", "block", "r2", "detector")  # higher: raised
        assert not shared.escalate_state("plain", "degrade", "r3", "detector")  # never lowered
        assert not shared.escalate_state("reviewed", "block", "r4", "detector")  # the admin's allow wins
        assert shared.escalate_state("degraded", "degrade", "r5", "detector")
        shared.set_state("degraded", "throttle", "lowered after review", "admin")
        assert not shared.escalate_state("degraded", "block", "r6", "detector")
        assert (
            shared.state_info("plain")["state"] == "block" and shared.state_info("plain")["by"] == "detector"
        )
        assert shared.state_info("reviewed")["state"] == "allow"
        assert [(d["account"], d["decision"], d["by"]) for d in shared.list_decisions()] == [
            ("reviewed", "allow", "admin"),
            ("plain", "throttle", "detector"),
            ("plain", "block", "detector"),
            ("degraded", "degrade", "detector"),
            ("degraded", "throttle", "admin"),
        ]
        assert {a.name: a.state_by for a in shared.list_accounts()} == {
            "degraded": "admin",
            "plain": "detector",
            "reviewed": "admin",
        }


def test_serve_refuses_bad_detector_flags(tmp_path: Path) -> None:
    import subprocess
    import sys

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "distillab.cli.main", "serve", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    bad = serve(
        "--upstream",
        "http://127.0.0.1:9/v1",
        "--db",
        str(tmp_path / "gw.db"),
        "--detect-action",
        "nuke",
        "--detect-every",
        "0",
        "--indicators",
        "missing.json",
        "--detect-replay-hours",
        "-1",
        "--detect-embedder",
        "bert",
    )
    assert bad.returncode == 1
    for problem in (
        "detect_action: must be one of flag, throttle, degrade, block",
        "detect_every: must be > 0",
        "indicators: missing.json not found",
        "give both or neither",
        "detect_replay_hours: must be >= 0",
        "detect_embedder: one of auto, minilm, lexical",
    ):
        assert problem in bad.stderr
    no_gateway = serve("--model", str(tmp_path), "--detect-reference", __file__)
    assert no_gateway.returncode == 1 and "need the gateway (--db)" in no_gateway.stderr
