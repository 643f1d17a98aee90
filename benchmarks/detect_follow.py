r"""Benchmark: the detector follower (`distillab detect-follow`) over a shared request log (issue 18).

On a throwaway PostgreSQL cluster (tests/gateway/pg_cluster.py: fsync off, Unix socket) and on a SQLite
file, with a simulated honest reference (`--reference-accounts`) and simulated traffic (`--accounts`
accounts over `--days` days, 5% campaigns):

1. **Fold rate**: the traffic is written to the log, then one follower reads it from the start and folds
   it, `--batch` rows at a time: records per second, split into reading (the query and decoding each
   row) and folding (`Detector.fold`). Then what a restart costs either way: loading the checkpoint
   (its size, save and load times) against folding the whole log again.
2. **Lag at `--rate` requests/s**: two writer processes (two "replicas") log honest requests at `--rate`
   in all for `--seconds` (what is due committed every 10 ms, as a gateway's group commit does), while
   the follower (this process, a thread,
   `--every` seconds between scorings, `--poll` between reads) folds them. Every `--campaign-every`
   seconds a new campaign account's first `--campaign-requests` requests (a chain-of-thought
   campaign's) commit in one transaction; the lag is the time from that commit to the account's
   decision in the store (its `decisions` row). Also each record's fold lag (commit to folded).
3. **Scale**: what grows with accounts rather than records (a scoring round, the checkpoint), on
   simulated traffic of `--scale-accounts` accounts over `--scale-days` days, in this process.

    python benchmarks/detect_follow.py [--backends postgresql sqlite] [--rate 500] [--seconds 40]

Prints and writes `benchmarks/results/detect_follow.json`. Every process shares this machine's cores:
the writers, the database server and the follower; `load` is the load average during the run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from distillab.db.schema import LOG_FIELDS
from distillab.db.store import Store
from distillab.detect.checkpoint import dump, restore
from distillab.detect.follow import Follower
from distillab.detect.live import Detector
from distillab.detect.live_config import FollowConfig
from distillab.detect.logs import read_batches
from distillab.detect.run import prepare_reference
from distillab.detect.simulate import SimulateConfig, read_labels, simulate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TICK_S = 0.01
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
from pg_cluster import PostgresUnavailable, postgres_cluster  # noqa: E402


def logged(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k in LOG_FIELDS and k != "id"}


def load(path: Path) -> list[dict[str, Any]]:
    return [logged(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else float("nan")


@contextmanager
def database(backend: str, folder: Path, cluster: Callable[[str], str] | None) -> Iterator[str]:
    """A fresh, empty store's URL."""
    if backend == "sqlite":
        yield str(folder / f"{uuid.uuid4().hex[:8]}.db")
        return
    assert cluster is not None
    name = f"b_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(cluster("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield cluster(name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fold_rate(url: str, config: FollowConfig, prepared: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    with Store(url) as store:
        for i in range(0, len(records), 5000):
            store.log_requests(records[i : i + 5000])
    follower = Follower(config, Store(url), Detector(config, prepared))
    follower.start()
    follower.cursor.position = 0  # from the log's start (the config starts at its end)
    spent = {"read": 0.0, "fold": 0.0}

    def timed(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args)
            finally:
                spent[part] += time.perf_counter() - started

        return run

    follower.store.log_rows_after = timed("read", follower.store.log_rows_after)  # type: ignore[method-assign]
    follower.detector.fold = timed("fold", follower.detector.fold)  # type: ignore[method-assign]
    started, cpu = time.perf_counter(), time.thread_time()
    while not follower.poll()[1]:
        pass
    total_s, cpu_s = time.perf_counter() - started, time.thread_time() - cpu
    assert follower.folded == len(records)
    started = time.perf_counter()
    follower.save()
    save_s = time.perf_counter() - started
    started = time.perf_counter()
    saved = follower.store.follower(config.name)
    assert saved is not None
    restore(Detector(config, prepared), saved.state)
    load_s = time.perf_counter() - started
    follower.close()
    table = follower.detector.table
    return {
        "records": len(records),
        "accounts": len(table) if table is not None else 0,
        "records_per_s": round(len(records) / total_s),
        "seconds": round(total_s, 2),
        "cpu_seconds": round(cpu_s, 2),
        "read_seconds": round(spent["read"], 2),
        "fold_seconds": round(spent["fold"], 2),
        "checkpoint_bytes": len(saved.state),
        "checkpoint_save_s": round(save_s, 3),
        "checkpoint_load_s": round(load_s, 3),
    }


def write_honest(url: str, records: list[dict[str, Any]], rate: float, seconds: float, out: Any) -> None:
    """A writer process (one replica) logging `rate` records a second, ts = now: every TICK_S the records
    due are committed in one transaction, as a gateway's group commit does with requests in flight
    together. No fsync (SQLite synchronous=NORMAL; the PostgreSQL cluster runs with fsync off)."""
    store = Store(url, fsync=False)
    start, n = time.time(), 0
    while (now := time.time()) < start + seconds:
        due = int((now - start) * rate)
        if due > n:
            store.log_requests([{**records[i % len(records)], "ts": now} for i in range(n, due)])
            n = due
        time.sleep(TICK_S)
    out.put((n, time.time() - start))
    store.close()


def lag(
    url: str,
    config: FollowConfig,
    prepared: Any,
    honest: list[dict[str, Any]],
    campaign: list[dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    with Store(url) as store:
        store.log_request({**honest[0], "ts": time.time()})  # the tables exist before the writers start
    detector = Detector(config, prepared)
    folded_lag: list[float] = []
    fold = detector.fold

    def timed_fold(records: list[dict[str, Any]]) -> None:
        fold(records)
        now = time.time()
        folded_lag.extend(now - float(r["ts"]) for r in records)

    detector.fold = timed_fold  # type: ignore[method-assign]
    follower = Follower(config, Store(url), detector)
    follower.start()
    rounds: list[float] = []
    score = follower.score

    def timed_score() -> Any:
        started = time.perf_counter()
        try:
            return score()
        finally:
            rounds.append(time.perf_counter() - started)

    follower.score = timed_score  # type: ignore[method-assign]
    cpu: list[float] = []

    def run() -> None:
        started = time.thread_time()
        follower.run(stop)
        cpu.append(time.thread_time() - started)

    stop = threading.Event()
    running = threading.Thread(target=run)
    running.start()
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    writers = [
        context.Process(target=write_honest, args=(url, honest[i::2], args.rate / 2, args.seconds, out))
        for i in range(2)
    ]
    for w in writers:
        w.start()
    decided: list[float] = []
    missed = 0
    with Store(url) as store:
        time.sleep(args.campaign_every)
        started = time.time()
        while time.time() < started + args.seconds - args.campaign_every:
            account = f"campaign-{uuid.uuid4().hex[:8]}"
            store.create_key(account)  # an account the gateways know (decisions change its state)
            now = time.time()
            store.log_requests([{**r, "account": account, "ts": now} for r in campaign])
            committed = time.time()
            deadline = committed + args.campaign_every
            while time.time() < deadline:
                found = store.list_decisions(account)
                if found:
                    decided.append(found[0]["ts"] - committed)
                    break
                time.sleep(0.02)
            else:
                missed += 1
            time.sleep(max(0.0, deadline - time.time()))
    written = [out.get(timeout=60) for _ in writers]
    for w in writers:
        w.join()
    time.sleep(2 * args.poll)
    stop.set()
    running.join()
    follower.close()
    return {
        "rate_asked": args.rate,
        "rate_written": round(sum(n for n, _ in written) / max(s for _, s in written)),
        "every_s": config.every,
        "poll_s": config.poll,
        "campaign_requests": len(campaign),
        "campaigns": len(decided) + missed,
        "campaigns_decided": len(decided),
        "decision_lag_s": {
            "median": round(statistics.median(decided), 3) if decided else None,
            "max": round(max(decided), 3) if decided else None,
            "all": [round(x, 3) for x in decided],
        },
        "fold_lag_s": {
            "p50": pct(folded_lag, 0.5),
            "p99": pct(folded_lag, 0.99),
            "max": pct(folded_lag, 1.0),
        },
        "other_accounts_decided": sum(1 for a in detector.decided if not a.startswith("campaign-")),
        "records_folded": follower.folded,
        "follower_cpu_ms_per_record": round(1000 * cpu[0] / max(follower.folded, 1), 3),
        "scoring_rounds": len(rounds),
        "scoring_round_s": {"median": round(statistics.median(rounds), 3), "max": round(max(rounds), 3)},
        "gaps_given_up": follower.given_up,
    }


def scale(folder: Path, config: FollowConfig, prepared: Any, accounts: int, days: float) -> dict[str, Any]:
    """What grows with accounts, not records: a scoring round, the checkpoint (in this process)."""
    log = folder / f"scale-{accounts}.parquet"
    simulate(SimulateConfig(out=log, accounts=accounts, days=days, attacker_share=0.05, seed=11))
    detector = Detector(config, prepared)
    records = 0
    for columns in read_batches(log):
        assert detector.table is not None
        detector.table.update(columns)
        records += len(columns)
    started = time.perf_counter()
    decided = detector.decide()
    score_s = time.perf_counter() - started
    started = time.perf_counter()
    blob = dump(detector)
    dump_s = time.perf_counter() - started
    started = time.perf_counter()
    restore(Detector(config, prepared), blob)
    restore_s = time.perf_counter() - started
    table = detector.table
    assert table is not None
    return {
        "accounts": len(table),
        "records": records,
        "scoring_round_s": round(score_s, 3),
        "flagged": len(decided),
        "checkpoint_bytes": len(blob),
        "checkpoint_bytes_per_account": round(len(blob) / len(table)),
        "checkpoint_dump_s": round(dump_s, 3),
        "checkpoint_restore_s": round(restore_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--reference-accounts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--campaign-every", type=float, default=5.0)
    parser.add_argument("--campaign-requests", type=int, default=60)
    parser.add_argument("--scale-accounts", type=int, nargs="*", default=[1000, 3000, 10000])
    parser.add_argument("--scale-days", type=float, default=0.25)
    parser.add_argument("--out", type=Path, default=RESULTS / "detect_follow.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference = folder / "reference.parquet"
        simulate(
            SimulateConfig(
                out=reference, accounts=args.reference_accounts, days=1, attacker_share=0, seed=101
            )
        )
        log = folder / "traffic.jsonl"
        simulate(
            SimulateConfig(
                out=log,
                accounts=args.accounts,
                days=args.days,
                attacker_share=0.05,
                seed=7,
                campaigns=("chain-of-thought",),
            )
        )
        records = load(log)
        labels = read_labels(folder / "traffic.labels.jsonl")
        honest = [r for r in records if labels[r["account"]]["kind"] != "chain-of-thought"]
        by_campaign: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            if labels[r["account"]]["kind"] == "chain-of-thought":
                by_campaign.setdefault(r["account"], []).append(r)
        campaign = max(by_campaign.values(), key=len)[: args.campaign_requests]
        prepared = prepare_reference(reference, embedder="lexical")
        print(
            f"{len(records):,} records, {len(labels)} accounts; reference {args.reference_accounts}",
            flush=True,
        )

        config = FollowConfig(
            db="unused",
            reference=reference,
            every=args.every,
            poll=args.poll,
            batch=args.batch,
            replay_hours=0,
            action="throttle",
            embedder="lexical",
        )
        results: dict[str, Any] = {}
        with ExitStack() as stack:
            cluster = None
            if "postgresql" in args.backends:
                try:
                    cluster = stack.enter_context(postgres_cluster())
                except PostgresUnavailable as exc:
                    print(f"PostgreSQL: {exc}", flush=True)
            for backend in args.backends:
                if backend == "postgresql" and cluster is None:
                    results[backend] = {"skipped": "PostgreSQL could not start here"}
                    continue
                with database(backend, folder, cluster) as url:
                    rate = fold_rate(url, config, prepared, records)
                print(backend, "fold", json.dumps(rate), flush=True)
                with database(backend, folder, cluster) as url:
                    lagged = lag(url, config, prepared, honest, campaign, args)
                print(backend, "lag", json.dumps(lagged), flush=True)
                results[backend] = {"fold": rate, "lag": lagged}

        scaled = []
        for accounts in args.scale_accounts:
            scaled.append(scale(folder, config, prepared, accounts, args.scale_days))
            print("scale", json.dumps(scaled[-1]), flush=True)

    result = {
        "benchmark": "detect_follow",
        "traffic_accounts": args.accounts,
        "traffic_days": args.days,
        "reference_accounts": args.reference_accounts,
        "batch": args.batch,
        "results": results,
        "scale": scaled,
        "cpus": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
