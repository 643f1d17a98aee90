"""The live detector on traffic from the independent generator (tests/traffic), against `distillab detect`.

    python benchmarks/detect_live_generalize.py          # 300 accounts, 3 days; a 1,100-account reference
    python benchmarks/detect_live_generalize.py --quick  # 150 accounts, 2 days; a 500-account reference

The gateway's in-process detector and the follower (`distillab detect-follow`) share one core,
`distillab.detect.live.Detector`: records are folded a batch at a time and all accounts and linked groups
are scored on a schedule with the offline detector's code. Here a log the detector was never tuned on
(a seed no other benchmark or test uses) is replayed into that core in time order, a batch per
`--batch-seconds` of log time, with a scoring every `--every-hours` of log time (a follower scoring every
30 s of wall time on a busy provider sees far more often than that; an hour of log time is the cautious
end). The same log then goes through the `distillab detect` CLI with the same reference.

Reported for both: recall per campaign kind, honest false positives per persona; for the live detector
also the median requests an account had sent when it was flagged, and the wall time of folding and of
scoring. `--embedder` is given to both (the live detector's `--detect-embedder`, detect's `--embedder`).
Writes benchmarks/results/detect_live_generalize-EMBEDDER.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from distillab.detect.live import Detector  # noqa: E402
from distillab.detect.live_config import LiveDetectConfig  # noqa: E402
from traffic import TrafficConfig, generate, write_labels, write_log  # noqa: E402
from traffic.seeds import LIVE_LOG as LOG  # noqa: E402
from traffic.seeds import LIVE_QUICK_LOG as QUICK_LOG  # noqa: E402
from traffic.seeds import QUICK_REFERENCE, REFERENCE  # noqa: E402


def replay(
    records: list[dict[str, Any]], reference: Path, every_hours: float, batch_seconds: float, embedder: str
) -> dict:
    """Fold the records in time order into a live detector; score every `every_hours` of log time."""
    detector = Detector.load(LiveDetectConfig(reference=reference, action="flag", embedder=embedder))
    records = sorted(records, key=lambda r: r["ts"])
    sent: Counter[str] = Counter()
    flagged: dict[str, dict[str, Any]] = {}
    fold_s = decide_s = 0.0
    rounds = 0
    start = records[0]["ts"]
    next_score = start + every_hours * 3600
    i = 0
    while i < len(records):
        end = records[i]["ts"] + batch_seconds
        j = i
        while j < len(records) and records[j]["ts"] < end:
            sent[records[j]["account"]] += 1
            j += 1
        tick = time.process_time()
        detector.fold(records[i:j])
        fold_s += time.process_time() - tick
        i = j
        if i == len(records) or records[i]["ts"] >= next_score:
            tick = time.process_time()
            decisions = detector.decide()
            decide_s += time.process_time() - tick
            rounds += 1
            at = records[i - 1]["ts"]
            for d in decisions:
                detector.decided.add(d.account)
                flagged[d.account] = {"after_requests": sent[d.account], "hours": (at - start) / 3600}
            while i < len(records) and records[i]["ts"] >= next_score:
                next_score += every_hours * 3600
    return {"flagged": flagged, "fold_cpu_s": fold_s, "decide_cpu_s": decide_s, "scorings": rounds}


def offline(log: Path, labels: Path, reference: Path, out: Path, embedder: str) -> set[str]:
    args = [sys.executable, "-m", "distillab.cli.main", "detect", "--log", str(log), "--labels", str(labels)]
    args += ["--reference", str(reference), "--out", str(out), "--no-progress", "--embedder", embedder]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (out / "accounts.jsonl").read_text().splitlines() if line]
    return {r["account"] for r in rows if r["flagged"]}


def tally(flagged: set[str], kinds: dict[str, tuple[str, str]], until: dict[str, int]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"accounts": 0, "flagged": 0, "after": []})
    for account, (label, kind) in kinds.items():
        row = per[kind]
        row["campaign"] = label != "benign"
        row["accounts"] += 1
        if account in flagged:
            row["flagged"] += 1
            if account in until:
                row["after"].append(until[account])
    campaigns = {
        kind: {
            "accounts": r["accounts"],
            "flagged": r["flagged"],
            "recall": r["flagged"] / r["accounts"],
            "median_requests_until_flagged": statistics.median(r["after"]) if r["after"] else None,
        }
        for kind, r in sorted(per.items())
        if r["campaign"]
    }
    honest = {
        kind: {"accounts": r["accounts"], "flagged": r["flagged"]}
        for kind, r in sorted(per.items())
        if not r["campaign"]
    }
    n_campaign = sum(c["accounts"] for c in campaigns.values())
    n_honest = sum(h["accounts"] for h in honest.values())
    return {
        "campaigns": campaigns,
        "honest": honest,
        "recall": sum(c["flagged"] for c in campaigns.values()) / max(1, n_campaign),
        "honest_flagged": sum(h["flagged"] for h in honest.values()),
        "honest_accounts": n_honest,
    }


def show(name: str, result: dict[str, Any]) -> None:
    per = " ".join(f"{k}={v['flagged']}/{v['accounts']}" for k, v in result["campaigns"].items())
    fps = " ".join(f"{k}={v['flagged']}" for k, v in result["honest"].items() if v["flagged"])
    print(
        f"{name}: recall {result['recall']:.2f} ({per}); honest flagged {result['honest_flagged']}/"
        f"{result['honest_accounts']} {fps}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller log and reference (a smoke run)")
    parser.add_argument("--every-hours", type=float, default=1.0, help="log hours between scorings")
    parser.add_argument("--batch-seconds", type=float, default=60.0, help="log seconds folded per batch")
    parser.add_argument(
        "--embedder",
        default="auto",
        choices=("auto", "minilm", "lexical"),
        help="prompt embeddings for both detectors (the live one's --detect-embedder, detect's --embedder)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.out is None:
        args.out = ROOT / f"benchmarks/results/detect_live_generalize-{args.embedder}.json"
    seed, accounts, days = QUICK_LOG if args.quick else LOG
    ref_seed, ref_accounts, ref_days = QUICK_REFERENCE if args.quick else REFERENCE
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        reference = work / "reference.parquet"
        write_log(
            generate(TrafficConfig(accounts=ref_accounts, seed=ref_seed, days=ref_days)).honest(), reference
        )
        traffic = generate(TrafficConfig(accounts=accounts, seed=seed, days=days))
        log, labels = work / "log.parquet", work / "labels.jsonl"
        write_log(traffic, log)
        write_labels(traffic, labels)
        kinds = {a.name: (a.label, a.kind) for a in traffic.accounts}
        present = {r["account"] for r in traffic.records}
        kinds = {k: v for k, v in kinds.items() if k in present}
        print(f"log: {len(present)} accounts, {len(traffic.records)} requests over {days} days")

        tick = time.monotonic()
        live = replay(traffic.records, reference, args.every_hours, args.batch_seconds, args.embedder)
        live_wall = time.monotonic() - tick
        until = {a: f["after_requests"] for a, f in live["flagged"].items()}
        live_result = tally(set(live["flagged"]), kinds, until)
        show("live", live_result)

        tick = time.monotonic()
        offline_flagged = offline(log, labels, reference, work / "offline", args.embedder)
        offline_wall = time.monotonic() - tick
        offline_result = tally(offline_flagged, kinds, {})
        show("offline", offline_result)

    live_set, offline_set = set(live["flagged"]), offline_flagged
    result = {
        "benchmark": "detect_live_generalize",
        "quick": args.quick,
        "generator": "tests/traffic (independent of distillab.detect.simulate)",
        "log": {"seed": seed, "accounts": accounts, "days": days, "requests": len(traffic.records)},
        "reference": {"seed": ref_seed, "accounts": ref_accounts, "days": ref_days},
        "schedule": {"every_log_hours": args.every_hours, "batch_log_seconds": args.batch_seconds},
        "embedder": args.embedder,
        "live": {
            **live_result,
            "scorings": live["scorings"],
            "fold_cpu_s": round(live["fold_cpu_s"], 1),
            "decide_cpu_s": round(live["decide_cpu_s"], 1),
            "wall_s": round(live_wall, 1),
        },
        "offline": {**offline_result, "wall_s": round(offline_wall, 1)},
        "agreement": {
            "both": len(live_set & offline_set),
            "live_only": sorted(live_set - offline_set),
            "offline_only": sorted(offline_set - live_set),
        },
        "seconds_total": round(time.monotonic() - started, 1),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
