"""Benchmark: what the live detector adds to the gateway (added latency, throughput, CPU), and what its
parts cost (per-request queueing, folding, indicator matching, a scoring round).

Simulated traffic (honest personas and campaigns, 300 accounts, each with its own key) is replayed
through `distillab serve --upstream ... --db` in front of a fast fake upstream (tests/data/fake_openai.py,
canned answers), with the detector off and on (`--detect-reference` on a simulated honest reference,
`--indicators` exported from the traffic's labelled campaigns, `--detect-action flag` so that no
account's limits change mid-run), alternating, `--rounds` times each: first `--sequential` requests one
at a time (latency p50/p99), then `--requests` over `--concurrency` connections (throughput, gateway CPU
per request). The gateways start with `--detect-replay-hours 0`, so that the "on" runs measure serving,
not the start. Then the parts, in this process, on the same records, and what a restarted gateway's
replay of the request log costs (every request the runs logged, read back from the SQLite store and
folded). Writes benchmarks/results/live_detect_overhead.json.

    python benchmarks/live_detect_overhead.py [--requests 3000] [--concurrency 16] [--rounds 2]
                                              [--replay-requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from gateway_overhead import RawConnection, cpu_seconds, free_port, wait_up

from distillab.db.store import Store
from distillab.detect.indicator_export import export_indicators, labelled_campaigns
from distillab.detect.indicators import IndicatorIndex
from distillab.detect.live_config import LiveDetectConfig
from distillab.detect.run import prepare_reference
from distillab.detect.simulate import SimulateConfig, simulate
from distillab.detect.simulate.live import request_body
from distillab.gateway.detector import LiveDetector

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def encoded(records: list[dict[str, Any]], keys: dict[str, str]) -> list[bytes]:
    """Each record as a raw HTTP/1.1 request with its account's key (never streamed: the client reads
    Content-Length answers)."""
    out = []
    for record in records:
        body = json.dumps({k: v for k, v in request_body(record).items() if k != "stream"}).encode()
        out.append(
            (
                f"POST {record['endpoint']} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "
                f"{keys[record['account']]}\r\nUser-Agent: {record['user_agent']}\r\nContent-Type: "
                f"application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
    return out


async def drive(
    url: str, sequential: list[bytes], loaded: list[bytes], concurrency: int, gateway_pid: int
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    conns = [(await loop.create_connection(RawConnection, host, int(port)))[1] for _ in range(concurrency)]
    statuses: dict[int, int] = {}

    async def send(conn: RawConnection, request: bytes) -> float:
        started = time.perf_counter()
        status = await conn.send(request)
        statuses[status] = statuses.get(status, 0) + 1
        return 1000 * (time.perf_counter() - started)

    one_by_one = [await send(conns[0], r) for r in sequential]
    queue = list(reversed(loaded))
    times: list[float] = []

    async def worker(conn: RawConnection) -> None:
        while queue:
            times.append(await send(conn, queue.pop()))

    cpu_before, started = cpu_seconds(gateway_pid), time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    wall, cpu = time.perf_counter() - started, cpu_seconds(gateway_pid) - cpu_before
    for conn in conns:
        conn.transport.close()

    def cut(values: list[float], q: int) -> float:
        return round(statistics.quantiles(values, n=100)[q - 1], 3)

    return {
        "sequential_p50_ms": cut(one_by_one, 50),
        "sequential_p99_ms": cut(one_by_one, 99),
        "loaded_p50_ms": cut(times, 50),
        "loaded_p99_ms": cut(times, 99),
        "requests_per_s": round(len(loaded) / wall, 1),
        "gateway_cpu_ms_per_request": round(1000 * cpu / len(loaded), 3),
        "statuses": statuses,
    }


def parts(detector: LiveDetector, records: list[dict[str, Any]]) -> dict[str, float]:
    """Microseconds per request of each part, and one scoring round, in this process. Folding and
    matching are timed twice over the same records: first with cold caches (a fresh gateway: every word
    and shingle is new), then warm (a gateway that has run a while)."""
    n = len(records)
    started = time.perf_counter()
    for record in records:
        detector.observe(record)
    observe = time.perf_counter() - started
    detector.backlog = []
    table, tally = detector.table, detector.tally

    def timed(use_table: bool) -> float:
        detector.table, detector.tally = (table, None) if use_table else (None, tally)
        started = time.perf_counter()
        for i in range(0, n, 1000):  # one fold per second at 1000 requests/s
            detector.fold(records[i : i + 1000])
        return round(1e6 * (time.perf_counter() - started) / n, 1)

    fold_cold, match_cold = timed(True), timed(False)
    fold_warm, match_warm = timed(True), timed(False)
    detector.table, detector.tally = table, tally
    started = time.perf_counter()
    decisions = detector.decide()
    decide = time.perf_counter() - started
    return {
        "observe_us_per_request": round(1e6 * observe / n, 3),
        "fold_us_per_request_cold": fold_cold,
        "fold_us_per_request_warm": fold_warm,
        "indicator_match_us_per_request_cold": match_cold,
        "indicator_match_us_per_request_warm": match_warm,
        "scoring_round_s": round(decide, 3),
        "accounts_scored": len(table) if table is not None else 0,
        "decisions": len(decisions),
        "requests": n,
    }


def replay_cost(
    detector: LiveDetector, db: Path, records: list[dict[str, Any]], total: int
) -> dict[str, float]:
    """A restarted gateway's start: mark the log, read every logged request back and fold it. With `total`
    above what the runs logged, the log is first topped up with the simulated records again (recent)."""
    with Store(str(db), fsync=False) as store:
        missing, now = total - store.last_log_id(), time.time()
        while missing > 0:
            chunk = records[: min(missing, len(records))]
            store.log_requests([{**r, "ts": now - 60} for r in chunk])
            missing -= len(chunk)
        started = time.perf_counter()
        detector.prepare(store)
        detector.replay(store)
        seconds = time.perf_counter() - started
    return {
        "replay_requests": detector.replayed,
        "replay_s": round(seconds, 3),
        "replay_us_per_request": round(1e6 * seconds / max(1, detector.replayed), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--sequential", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--accounts", type=int, default=300, help="honest accounts in the replayed traffic")
    parser.add_argument("--reference-accounts", type=int, default=1000)
    parser.add_argument(
        "--replay-requests",
        type=int,
        default=0,
        help="requests in the log a restarted gateway replays (default: what the runs logged)",
    )
    parser.add_argument("--gateway-args", default="--no-log-fsync", help="extra `distillab serve` flags")
    parser.add_argument("--out", type=Path, default=RESULTS / "live_detect_overhead.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        reference, log = tmp / "reference.parquet", tmp / "traffic.jsonl"
        simulate(
            SimulateConfig(
                out=reference, accounts=args.reference_accounts, days=1, attacker_share=0, seed=101
            )
        )
        simulate(SimulateConfig(out=log, accounts=args.accounts, days=1, attacker_share=0.05, seed=7))
        records = [json.loads(line) for line in log.read_text().splitlines()]
        key_file = tmp / "sharing.key"
        key_file.write_text(secrets.token_hex(32))
        indicators = tmp / "indicators.json"
        export_indicators(
            labelled_campaigns(tmp / "traffic.labels.jsonl"), log, key_file.read_bytes(), indicators
        )
        db = tmp / "gateway.db"
        with Store(str(db)) as store:
            keys = {name: store.create_key(name)[1] for name in sorted({r["account"] for r in records})}
        needed = args.sequential + args.requests
        sequential = encoded(records[: args.sequential], keys)
        loaded = encoded(records[args.sequential : needed], keys)
        detect = [
            "--detect-reference",
            str(reference),
            "--detect-action",
            "flag",
            "--detect-every",
            "10",
            "--indicators",
            str(indicators),
            "--indicator-key-file",
            str(key_file),
            "--detect-replay-hours",
            "0",
            "--detect-embedder",
            "lexical",
        ]
        up_port = free_port()
        upstream = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/data/fake_openai.py"),
                str(up_port),
                "--tokens",
                "16",
                "--canned",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        try:
            wait_up(f"http://127.0.0.1:{up_port}", upstream)
            for _ in range(args.rounds):
                for mode in ("off", "on"):
                    port = free_port()
                    cmd = [
                        sys.executable,
                        "-m",
                        "distillab.cli.main",
                        "serve",
                        "--upstream",
                        f"http://127.0.0.1:{up_port}/v1",
                        "--db",
                        str(db),
                        "--port",
                        str(port),
                        *args.gateway_args.split(),
                        *(detect if mode == "on" else []),
                    ]
                    gateway = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    try:
                        url = f"http://127.0.0.1:{port}"
                        wait_up(url, gateway)
                        result = asyncio.run(drive(url, sequential, loaded, args.concurrency, gateway.pid))
                        time.sleep(1.5)  # one more fold, so the backlog shows
                        metrics = httpx.get(url + "/metrics").text
                        result["detector_metrics"] = [
                            line for line in metrics.splitlines() if line.startswith("distillab_detector")
                        ]
                        runs[mode].append(result)
                        print(
                            mode,
                            json.dumps({k: v for k, v in result.items() if k != "detector_metrics"}),
                            flush=True,
                        )
                    finally:
                        gateway.terminate()
                        gateway.wait(timeout=60)
        finally:
            upstream.terminate()
            upstream.wait(timeout=30)
        calibrated = prepare_reference(reference, embedder="lexical")
        index = IndicatorIndex.load(indicators, key_file.read_bytes())
        lexical = LiveDetectConfig(action="flag", embedder="lexical")
        measured = parts(LiveDetector(lexical, calibrated, index), records)
        measured.update(
            replay_cost(
                LiveDetector(lexical, calibrated, index),
                db,
                records,
                args.replay_requests,
            )
        )

    def median(mode: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs[mode]), 3)

    keys_ = (
        "sequential_p50_ms",
        "sequential_p99_ms",
        "loaded_p50_ms",
        "loaded_p99_ms",
        "requests_per_s",
        "gateway_cpu_ms_per_request",
    )
    summary = {k: {"off": median("off", k), "on": median("on", k)} for k in keys_}
    result = {
        "benchmark": "live_detect_overhead",
        "requests": args.requests,
        "sequential": args.sequential,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "gateway_args": args.gateway_args,
        "traffic_accounts": len(keys),
        "reference_accounts": args.reference_accounts,
        "added_sequential_p50_ms": round(
            summary["sequential_p50_ms"]["on"] - summary["sequential_p50_ms"]["off"], 3
        ),
        "throughput_ratio_on_off": round(
            summary["requests_per_s"]["on"] / summary["requests_per_s"]["off"], 3
        ),
        "medians": summary,
        "parts": measured,
        "runs": runs,
        "cpus": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
