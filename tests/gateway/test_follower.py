"""The detector follower (`distillab detect-follow`) over a store that gateway replicas share, on a SQLite
file and on a throwaway PostgreSQL: every replica's records folded exactly once (ids committed out of
order, rolled-back ids, a `kill -9` and a restart), the same decisions after the same queries as the
in-process detector, a campaign spread over two gateways flagged and applied by them, one follower per
name, and clear errors."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
import sqlalchemy as sa
from live_world import FakeModel, busiest, reference_log, replay, traffic

from distillab.db.lease import Lease
from distillab.db.schema import LOG_FIELDS, requests, to_row
from distillab.db.store import Store
from distillab.detect.checkpoint import dump, fingerprint, restore
from distillab.detect.follow import Follower, LogCursor
from distillab.detect.indicator_export import export_indicators, labelled_campaigns
from distillab.detect.indicators import IndicatorIndex, read_key
from distillab.detect.live import Detector
from distillab.detect.live_config import FollowConfig
from distillab.detect.run import prepare_reference
from distillab.errors import ConfigError, StoreError
from distillab.gateway.app import create_gateway
from distillab.gateway.detector import LiveDetector
from distillab.gateway.relay import STATE_TTL_S
from distillab.serving.background import run_in_background

KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("follow")
    by_account, labels, log = traffic(folder)
    reference = reference_log(folder)
    key_file = folder / "sharing.key"
    key_file.write_bytes(KEY)
    indicators = folder / "campaigns.indicators.json"
    export_indicators(labelled_campaigns(log.with_name("traffic.labels.jsonl")), log, KEY, indicators)
    records = sorted((r for rs in by_account.values() for r in rs), key=lambda r: r["ts"])
    return {
        "reference": reference,
        "prepared": prepare_reference(reference),
        "by_account": by_account,
        "records": [logged(r) for r in records],
        "labels": labels,
        "indicators": indicators,
        "key_file": key_file,
    }


def logged(record: dict[str, Any]) -> dict[str, Any]:
    """A simulated record as a gateway logs it (its fields only)."""
    return {k: v for k, v in record.items() if k in LOG_FIELDS and k != "id"}


def config(world: dict[str, Any], db: str, **changes: Any) -> FollowConfig:
    settings = {
        "db": db,
        "reference": world["reference"],
        "target_fpr": 0.02,
        "every": 0.2,
        "replay_hours": 0,
    }
    return FollowConfig(**{**settings, **changes})


def follower(world: dict[str, Any], db: str, clock: Any = time.time, **changes: Any) -> Follower:
    c = config(world, db, **changes)
    index = None
    if c.indicators is not None and c.indicator_key_file is not None:
        index = IndicatorIndex.load(c.indicators, read_key(c.indicator_key_file))
    return Follower(c, Store(db), Detector(c, world["prepared"], index), clock=clock)


def client(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)


def catch_up(f: Follower) -> None:
    while not f.poll()[1]:
        pass


def counts_in(store: Store) -> collections.Counter[str]:
    return collections.Counter(r["account"] for r in store.iter_logs())


def folded_counts(detector: Detector) -> dict[str, int]:
    table = detector.table
    assert table is not None
    return {name: table.stats(name).n for name in table.names}


# ---- reading the log by id ------------------------------------------------------------------------
def test_the_cursor_keeps_holes_as_gaps_until_they_fill_or_settle() -> None:
    cursor = LogCursor(10)
    cursor.advance([11, 12, 15, 16, 20], now=100.0)
    assert cursor.position == 20 and cursor.gaps == [(13, 14, 100.0), (17, 19, 100.0)]
    cursor.fill([18, 13])
    assert cursor.gaps == [(14, 14, 100.0), (17, 17, 100.0), (19, 19, 100.0)]
    cursor.advance([23], now=105.0)
    assert cursor.ranges() == [(14, 14), (17, 17), (19, 19), (21, 22)]
    assert cursor.expire(now=130.0, settle=30.0) == 0  # exactly `settle` seconds: still looked for
    assert cursor.expire(now=131.0, settle=30.0) == 3  # 14, 17 and 19 given up; 21-22 still young
    assert cursor.gaps == [(21, 22, 105.0)]


def test_the_log_is_read_by_id_and_only_in_the_columns_asked(world: dict[str, Any], store_url: str) -> None:
    with Store(store_url) as store:
        store.log_requests(world["records"][:10])
        rows = store.log_rows_after(3, 4, ["account", "messages", "params"])
        assert [r["id"] for r in rows] == [4, 5, 6, 7]
        assert set(rows[0]) == {"id", "account", "messages", "params"}  # no answers: the detector reads none
        assert rows[0]["params"] == world["records"][3]["params"]  # decoded from JSON
        assert [r["id"] for r in store.log_rows_in([(2, 2), (8, 20)])] == [2, 8, 9, 10]
        with pytest.raises(ConfigError, match="no fields"):
            store.log_rows_after(0, 1, ["account", "secret"])


def test_records_from_two_replicas_are_folded_exactly_once(world: dict[str, Any], store_url: str) -> None:
    records = world["records"][:2400]
    replicas = [Store(store_url), Store(store_url)]
    f = follower(world, store_url, batch=300)
    f.start()

    def write(replica: Store, share: list[dict[str, Any]]) -> None:
        for i in range(0, len(share), 20):
            replica.log_requests(share[i : i + 20])

    writers = [threading.Thread(target=write, args=(r, records[i::2])) for i, r in enumerate(replicas)]
    for w in writers:
        w.start()
    while any(w.is_alive() for w in writers):  # the follower reads while both replicas write
        f.poll()
    for w in writers:
        w.join()
    catch_up(f)
    assert f.folded == len(records) == f.cursor.position and not f.cursor.gaps
    assert folded_counts(f.detector) == dict(counts_in(replicas[0]))
    for store in (*replicas, f.store):
        store.close()


@pytest.mark.slow
def test_ids_committed_out_of_order_are_folded_when_they_land_and_rolled_back_ones_given_up(
    world: dict[str, Any], postgres_url: str
) -> None:
    records = world["records"][:50]
    now = [1000.0]
    c = config(world, postgres_url, settle=30.0)
    f = Follower(c, Store(postgres_url), Detector(c, world["prepared"]), clock=lambda: now[0])
    f.start()
    slow, fast = Store(postgres_url), Store(postgres_url)
    with slow.engine.connect() as late, slow.engine.connect() as failed:
        late.execute(requests.insert().values(to_row(records[0])))  # id 1: committed after id 3
        failed.execute(requests.insert().values(to_row(records[1])))  # id 2: rolled back
        fast.log_requests(records[2:10])  # ids 3..10
        catch_up(f)
        assert f.cursor.position == 10 and f.cursor.ranges() == [(1, 2)] and f.folded == 8
        late.commit()
        failed.rollback()
    now[0] += 10
    catch_up(f)
    assert f.folded == 9 and f.cursor.ranges() == [(2, 2)]
    now[0] += 25  # 35 s after id 2 went missing: given up
    fast.log_requests(records[10:50])
    catch_up(f)
    assert f.cursor.gaps == [] and f.given_up == 1 and f.folded == 49
    assert folded_counts(f.detector) == dict(counts_in(fast))
    for store in (slow, fast, f.store):
        store.close()


# ---- the checkpoint -------------------------------------------------------------------------------
def test_a_restored_checkpoint_continues_exactly_as_the_state_it_saved(world: dict[str, Any]) -> None:
    c = config(world, "unused.db", indicators=world["indicators"], indicator_key_file=world["key_file"])
    index = IndicatorIndex.load(world["indicators"], read_key(world["key_file"]))
    first, rest = world["records"][:1500], world["records"][1500:3000]
    kept = Detector(c, world["prepared"], index)
    kept.fold(first)
    blob = dump(kept)
    resumed = Detector(c, world["prepared"], index)
    assert fingerprint(resumed) == fingerprint(kept)
    restore(resumed, blob)
    for detector in (kept, resumed):
        detector.fold(rest)
    assert kept.table is not None and resumed.table is not None
    assert kept.table.names == resumed.table.names
    for name in kept.table.names:
        a, b = kept.table.stats(name), resumed.table.stats(name)
        for field in vars(a):
            if field != "embedder":
                x, y = getattr(a, field), getattr(b, field)
                assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, (name, field)
    assert kept.tally is not None and resumed.tally is not None and kept.tally.hits
    assert (kept.tally.hits, kept.tally.support) == (resumed.tally.hits, resumed.tally.support)
    assert kept.decide() == resumed.decide()
    other = Detector(config(world, "unused.db"), world["prepared"])  # no indicators: another fingerprint
    assert fingerprint(other) != fingerprint(kept)


def test_a_restart_resumes_from_its_checkpoint_or_starts_afresh_when_it_cannot(
    world: dict[str, Any], tmp_path: Path
) -> None:
    db = str(tmp_path / "gw.db")
    with Store(db) as store:
        store.log_requests(world["records"][:300])
        records = world["records"]
        hour_later = records[299]["ts"] + 3600  # and a window reaching back to the 151st record
        f = follower(
            world, db, clock=lambda: hour_later, replay_hours=(hour_later - records[150]["ts"]) / 3600
        )
        first = next(i for i, r in enumerate(records) if r["ts"] >= records[150]["ts"])
        assert f"starting afresh at request-log id {first}: the last" in f.start()
        catch_up(f)
        f.save()
        store.log_requests(world["records"][300:400])
        assert f.folded == 300 - first
        again = follower(world, db)
        assert again.start().startswith(f"resuming at request-log id 300 with {300 - first} records folded")
        catch_up(again)
        assert folded_counts(again.detector) == collections.Counter(r["account"] for r in records[first:400])
        changed = follower(world, db, indicators=world["indicators"], indicator_key_file=world["key_file"])
        assert "starting afresh" in changed.start()  # other indicators: the saved state cannot go on
        assert "resuming" in follower(world, db).start()  # the checkpoint itself was kept
        saved = store.follower("detector")
        assert saved is not None
        with Store(str(tmp_path / "other.db")) as other:  # a log that ends before the checkpoint
            other.save_follower(saved)
        with pytest.raises(ConfigError, match="--fresh"):
            follower(world, str(tmp_path / "other.db")).start()
        assert "starting afresh" in follower(world, db, fresh=True).start()
        assert store.follower("detector") is None  # --fresh dropped it


def test_one_follower_per_name_holds_the_store(world: dict[str, Any], store_url: str) -> None:
    with Store(store_url) as store:
        first = Lease.take(store, "follower:detector")
        assert first is not None
        assert Lease.take(store, "follower:detector") is None
        other = Lease.take(store, "follower:eu")  # another name: its own lease
        assert other is not None
        waiting = follower(world, store_url)
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        assert not waiting.acquire(stop)  # waited while the first held it, until stopped
        first.check()
        if store.dialect == "postgresql":  # the lock is its session's: a session lost is a lease lost
            with store.engine.connect() as conn:
                conn.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'")
                )
            with pytest.raises(StoreError, match="lost the lease"):
                first.check()
        first.release()
        assert waiting.acquire(threading.Event())
        waiting.close()
        other.release()


# ---- decisions ------------------------------------------------------------------------------------
def test_the_follower_flags_after_the_same_queries_as_the_in_process_detector(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """One gateway with its own detector, and three replicas writing round-robin with the follower
    reading them: the same records, scored after every 5, flag the campaign at the same query."""
    by_account, labels = world["by_account"], world["labels"]
    honest, campaign = busiest(by_account, labels, "chat"), busiest(by_account, labels, "chain-of-thought")
    stream = []
    for i in range(60):
        stream.append(logged(by_account[campaign][i]))
        if i < len(by_account[honest]):
            stream.append(logged(by_account[honest][i]))
    one, shared = Store(str(tmp_path / "one.db")), str(tmp_path / "shared.db")
    replicas = [Store(shared) for _ in range(3)]
    for store in (one, replicas[0]):
        for name in (honest, campaign):
            store.create_key(name)
    c = config(world, shared, action="degrade")
    in_process = LiveDetector(c, world["prepared"])
    f = follower(world, shared, action="degrade")
    f.start()
    flagged_at: dict[str, int] = {}
    for step in range(0, len(stream), 5):
        part = stream[step : step + 5]
        in_process.step(one, part, score=True)
        for i, record in enumerate(part):
            replicas[(step + i) % 3].log_request(record)
        catch_up(f)
        f.score()
        queries = sum(1 for r in stream[: step + 5] if r["account"] == campaign)
        for name, detector in (("in-process", in_process), ("follower", f.detector)):
            if campaign in detector.decided:
                flagged_at.setdefault(name, queries)
    assert flagged_at["follower"] == flagged_at["in-process"]
    assert one.get_state(campaign)[0] == replicas[0].get_state(campaign)[0] == "degrade"
    assert honest not in f.detector.decided and honest not in in_process.decided
    for store in (one, *replicas, f.store):
        store.close()


@pytest.fixture(scope="module")
def model() -> Iterator[str]:
    with run_in_background(FakeModel().app) as url:
        yield url + "/v1"


def test_a_campaign_spread_over_two_gateways_is_blocked_by_both(
    world: dict[str, Any], model: str, store_url: str
) -> None:
    """The follower blocks a campaign from the records both gateways logged, and both then refuse it.
    The gateways run on the test's clock: the follower may block the campaign before its 60th query (in
    the test above it is flagged after 38), but no replica re-reads account states until the clock moves
    on, so however slowly the queries go through, all 60 are served and the block applies after them."""
    by_account, labels = world["by_account"], world["labels"]
    honest, campaign = busiest(by_account, labels, "chat"), busiest(by_account, labels, "chain-of-thought")
    stores = [Store(store_url), Store(store_url)]
    keys = {name: stores[0].create_key(name)[1] for name in (honest, campaign)}
    now = [1000.0]
    f = follower(world, store_url, action="block", poll=0.05)
    f.start()
    stop = threading.Event()
    running = threading.Thread(target=f.run, args=(stop,))
    running.start()
    try:
        with (
            run_in_background(create_gateway(stores[0], model, clock=lambda: now[0])) as a,
            run_in_background(create_gateway(stores[1], model, clock=lambda: now[0])) as b,
        ):
            clients = [
                {
                    name: openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
                    for name, key in keys.items()
                }
                for base in (a, b)
            ]
            for i in range(60):  # round-robin over the two gateways
                replay(clients[i % 2][campaign], by_account[campaign][i])
                if i < len(by_account[honest]):
                    replay(clients[(i + 1) % 2][honest], by_account[honest][i])
            deadline = time.monotonic() + 30
            while stores[0].get_state(campaign)[0] != "block" and time.monotonic() < deadline:
                time.sleep(0.05)
            info = stores[0].state_info(campaign)
            assert info["state"] == "block" and info["by"] == "detector"
            assert info["reason"].startswith("live detector")
            now[0] += STATE_TTL_S + 0.1  # each replica re-reads the states it holds once they are this old
            for gateway in clients:
                with pytest.raises(openai.PermissionDeniedError):
                    replay(gateway[campaign], by_account[campaign][60])
                assert replay(gateway[honest], by_account[honest][0]).choices
    finally:
        stop.set()
        running.join()
    assert stores[0].get_state(honest)[0] == "allow"
    assert stores[0].follower("detector") is not None  # saved when stopped
    for store in (*stores, f.store):
        store.close()


# ---- the command ----------------------------------------------------------------------------------
def follow_command(*args: str) -> list[str]:
    """`distillab detect-follow` with the lexical embedder, as every test runs it (tests/conftest.py):
    its default, auto, would run MiniLM where installed."""
    return [
        sys.executable,
        "-m",
        "distillab.cli.main",
        "detect-follow",
        "--detect-embedder",
        "lexical",
        *args,
    ]


@pytest.mark.slow
def test_a_follower_killed_with_9_and_restarted_folds_every_record_once(
    world: dict[str, Any], store_url: str, tmp_path: Path
) -> None:
    records = world["records"]
    args = follow_command(
        "--db", store_url, "--detect-reference", str(world["reference"]), "--detect-replay-hours", "0",
        "--checkpoint-every", "0.3", "--poll", "0.05", "--batch", "200",
    )  # fmt: skip
    with Store(store_url) as store:
        store.log_requests(records[:100])  # before the follower's first start: not its to fold
        out = (tmp_path / "first.log").open("w")
        first = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while store.follower("detector") is None and time.monotonic() < deadline:
            time.sleep(0.1)  # its first checkpoint says it runs (the reference takes seconds to prepare)
        assert store.follower("detector") is not None, (tmp_path / "first.log").read_text()
        written = 100
        while written < 3000:  # it folds while the replicas write; killed halfway, between checkpoints
            store.log_requests(records[written : written + 25])
            written += 25
            if written == 1500:
                first.send_signal(signal.SIGKILL)
                assert first.wait(timeout=30) == -signal.SIGKILL
            time.sleep(0.005)
        killed_at = store.follower("detector")
        assert killed_at is not None and 100 < killed_at.position < 3000
        out = (tmp_path / "second.log").open("w")
        second = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, text=True)
        store.log_requests(records[3000:4000])
        last = store.last_log_id()
        while time.monotonic() < deadline:
            saved = store.follower("detector")
            if saved is not None and saved.position == last:
                break
            time.sleep(0.1)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
        text = (tmp_path / "second.log").read_text()
        assert f"resuming at request-log id {killed_at.position}" in text and "checkpoint saved" in text
        saved = store.follower("detector")
        assert saved is not None and saved.position == last and saved.folded == 3900
        restored = Detector(config(world, store_url), world["prepared"])
        assert fingerprint(restored) == saved.fingerprint
        restore(restored, saved.state)
        expected = collections.Counter(r["account"] for r in records[100:4000])
        assert folded_counts(restored) == dict(expected)


def test_the_command_refuses_bad_options_and_an_unreachable_store(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            follow_command(*args), cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )

    bad = run("--db", "gw.db", "--batch", "0", "--detect-action", "nuke", "--settle", "-1")
    assert bad.returncode == 1
    for problem in ("batch: must be >= 1", "detect_action: must be one of", "settle: must be > 0",
                    "detect_reference or indicators: give at least one"):  # fmt: skip
        assert problem in bad.stderr
    reference = tmp_path / "honest.parquet"
    reference.write_bytes(b"")  # validated as a file only when the store opens
    missing = run("--db", str(tmp_path / "none.db"), "--detect-reference", str(reference))
    assert missing.returncode == 1 and "no database at" in missing.stderr
    down = run("--db", "postgresql://gw@127.0.0.1:9/gateway", "--detect-reference", str(reference))
    assert down.returncode == 1 and "cannot open database postgresql" in down.stderr
    assert "Traceback" not in bad.stderr + missing.stderr + down.stderr
    assert sorted(os.listdir(tmp_path)) == ["honest.parquet"]  # no database made on the way
