"""Detection quality on held-out simulated traffic, next to the PRADA and windowed-MMD baselines.

    python benchmarks/detect_quality.py              # default: about 5 minutes on 2 cores
    python benchmarks/detect_quality.py --quick      # smaller scenarios, for a smoke run
    python benchmarks/detect_quality.py --no-baselines
    python benchmarks/detect_quality.py --self-calibrated   # also without a reference (the log itself)
    python benchmarks/detect_quality.py --embedder minilm   # behavioural linking on MiniLM embeddings

Protocol: every detector is calibrated on one simulator seed's honest-only traffic (no campaigns) and
evaluated on other seeds and other simulator settings (attacker share, days, number of accounts, rate
limit) that calibration never saw, plus a large honest-only scenario for the false-positive rate.
`distillab detect` runs as the CLI does (with the reference, checkpoints every 2 hours of log time
for queries until flagged); the baselines (src/distillab/detect/baselines/) get their thresholds from
the same honest reference accounts at the same target false-positive rate.

With --self-calibrated, `distillab detect` also runs on each scenario without a reference, plus one
where a single campaign runs a quarter of the accounts (`SELF_ONLY`): the log calibrates itself
(docs/detect.md, "Without a reference"), its p-values are ranks among the log's own honest-looking
accounts, and a few hundred of those cannot certify 0.1%; so it is scored at the smallest rate the
log certifies (3/(N+1)) when that is larger than the target, and reports that rate.

Reported per method and scenario: campaign-account recall, honest-account false-positive rate,
campaigns detected, median queries until flagged, and recall per campaign strategy; overall numbers
against the goals (recall >= 0.95 at honest FPR <= 0.1%, >= 95% of campaigns detected when attackers
send 5% of the traffic, median queries until flagged <= 200). Writes benchmarks/results/detect_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from distillab.detect.baselines import account_streams
from distillab.detect.baselines.mmd import WindowMMD
from distillab.detect.baselines.prada import Prada
from distillab.detect.config import DetectConfig
from distillab.detect.run import prepare_reference, run_detect
from distillab.detect.simulate import SimulateConfig, read_labels, simulate

ROOT = Path(__file__).resolve().parents[1]
TARGET_FPR, FDR = 0.001, 0.05
CALIBRATION = {"seed": 101, "accounts": 1000, "days": 3.0, "attacker_share": 0.0}
SCENARIOS = {
    "5pct-a": {"seed": 201, "accounts": 300, "days": 3.0, "attacker_share": 0.05},
    "5pct-b": {"seed": 202, "accounts": 300, "days": 3.0, "attacker_share": 0.05},
    "2pct-5days-rpm30": {
        "seed": 203,
        "accounts": 400,
        "days": 5.0,
        "attacker_share": 0.02,
        "rate_limit_rpm": 30,
    },
    "10pct-2days": {"seed": 204, "accounts": 300, "days": 2.0, "attacker_share": 0.10},
    "honest-only": {"seed": 205, "accounts": 800, "days": 3.0, "attacker_share": 0.0},
}
SELF_ONLY = {
    "quarter-many-accounts": {
        "seed": 206,
        "accounts": 300,
        "days": 1.0,
        "attacker_share": 0.7,
        "campaigns": ("many-accounts",),
    },
}
"""A campaign of about a quarter of the accounts: what self-calibration must not be masked by."""
QUICK = {"accounts": 150, "days": 2.0}
"""--quick shrinks the scenarios (not the calibration: conformal p-values need a large honest reference)."""


def make(
    work: Path, name: str, settings: dict[str, Any], quick: bool
) -> tuple[Path, dict[str, dict[str, str]]]:
    shrink = quick and name != "calibration"
    options = {**settings, **({k: min(v, settings.get(k, v)) for k, v in QUICK.items()} if shrink else {})}
    out = work / f"{name}.parquet"
    simulate(SimulateConfig(out=out, **options))
    return out, read_labels(out.with_name(f"{name}.labels.jsonl"))


def score(flags: dict[str, int | None], labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Metrics from {account: queries when first flagged, or None}."""
    honest = [a for a, v in labels.items() if v["label"] == "benign" and a in flags]
    attackers = [a for a, v in labels.items() if v["label"] != "benign" and a in flags]
    by_strategy: dict[str, list[bool]] = defaultdict(list)
    campaigns: dict[str, bool] = defaultdict(bool)
    for a in attackers:
        by_strategy[labels[a]["kind"]].append(flags[a] is not None)
        campaigns[labels[a]["label"]] |= flags[a] is not None
    until = [flags[a] for a in attackers if flags[a] is not None]
    return {
        "honest_accounts": len(honest),
        "campaign_accounts": len(attackers),
        "honest_flagged": sum(flags[a] is not None for a in honest),
        "honest_fpr": sum(flags[a] is not None for a in honest) / len(honest) if honest else None,
        "recall": len(until) / len(attackers) if attackers else None,
        "campaigns": len(campaigns),
        "campaigns_detected": sum(campaigns.values()),
        "median_queries_until_flagged": statistics.median(until) if until else None,
        "recall_by_strategy": {k: round(sum(v) / len(v), 3) for k, v in sorted(by_strategy.items())},
    }


def run_distillab(
    log: Path, labels_path: Path, reference: Path, prepared: Any, out: Path, embedder: str
) -> tuple[dict[str, int | None], float | None]:
    """{account: queries when first flagged or None}, and the share of honest accounts flagged at any
    checkpoint (a live detector's false-positive rate over the whole period)."""
    config = DetectConfig(
        log=str(log),
        out=out,
        labels=labels_path,
        reference=str(reference),
        target_fpr=TARGET_FPR,
        fdr=FDR,
        embedder=embedder,
        progress=False,
    )
    summary = run_detect(config, prepared=prepared)
    rows = [json.loads(line) for line in (out / "accounts.jsonl").open()]
    flags = {
        r["account"]: (r["flagged_after_requests"] or r["requests"]) if r["flagged"] else None for r in rows
    }
    return flags, summary.metrics.honest_ever_flagged_rate if summary.metrics else None


def run_self(log: Path, labels_path: Path, out: Path) -> tuple[dict[str, int | None], float]:
    """Flags self-calibrated (no reference) at the target, or at the smallest rate the log certifies
    when that is larger; and the rate used."""
    config = DetectConfig(
        log=str(log), out=out, labels=labels_path, target_fpr=TARGET_FPR, fdr=FDR, progress=False
    )
    cert = run_detect(config).certification
    assert cert is not None
    if not cert.certifiable:  # a few hundred accounts: score at what they can certify
        config.target_fpr = cert.smallest_certifiable_fpr * (1 + 1e-9)
        run_detect(config)
    rows = [json.loads(line) for line in (out / "accounts.jsonl").open()]
    return {r["account"]: r["requests"] if r["flagged"] else None for r in rows}, config.target_fpr


def overall(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    honest = sum(r["honest_accounts"] for r in results.values())
    honest_flagged = sum(r["honest_flagged"] for r in results.values())
    attackers = sum(r["campaign_accounts"] for r in results.values())
    caught = sum(round((r["recall"] or 0) * r["campaign_accounts"]) for r in results.values())
    five = [r for name, r in results.items() if name.startswith("5pct")]
    medians = [
        r["median_queries_until_flagged"] for r in results.values() if r["median_queries_until_flagged"]
    ]
    ever = [
        (r["honest_ever_flagged_at_checkpoints"], r["honest_accounts"])
        for r in results.values()
        if r.get("honest_ever_flagged_at_checkpoints") is not None
    ]
    return {
        "honest_ever_flagged_at_checkpoints": (
            sum(rate * n for rate, n in ever) / sum(n for _, n in ever) if ever else None
        ),
        "recall": caught / attackers if attackers else None,
        "honest_fpr": honest_flagged / honest if honest else None,
        "honest_accounts": honest,
        "campaigns_detected_at_5pct": (
            f"{sum(r['campaigns_detected'] for r in five)}/{sum(r['campaigns'] for r in five)}"
        ),
        "campaigns_detected_share_at_5pct": (
            sum(r["campaigns_detected"] for r in five) / max(1, sum(r["campaigns"] for r in five))
        ),
        "median_queries_until_flagged": statistics.median(medians) if medians else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller scenarios (a smoke run)")
    parser.add_argument("--no-baselines", action="store_true", help="only distillab detect")
    parser.add_argument(
        "--self-calibrated", action="store_true", help="also distillab detect without a reference"
    )
    parser.add_argument(
        "--embedder", default="lexical", help="prompt embeddings for behavioural linking: lexical or minilm"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/detect_quality.json")
    args = parser.parse_args()
    started = time.monotonic()
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tick = time.monotonic()
        reference, _ = make(work, "calibration", CALIBRATION, args.quick)
        logs = {name: make(work, name, settings, args.quick) for name, settings in SCENARIOS.items()}
        seconds["simulate"] = time.monotonic() - tick

        tick = time.monotonic()
        prepared = prepare_reference(reference, embedder=args.embedder)
        results: dict[str, dict[str, Any]] = {"distillab": {}}
        for name, (log, labels) in logs.items():
            flags, ever = run_distillab(
                log,
                log.with_name(f"{name}.labels.jsonl"),
                reference,
                prepared,
                work / f"out-{name}",
                args.embedder,
            )
            results["distillab"][name] = {**score(flags, labels), "honest_ever_flagged_at_checkpoints": ever}
        seconds["distillab"] = time.monotonic() - tick

        if args.self_calibrated:
            tick = time.monotonic()
            results["distillab-self"] = {}
            own = {**logs, **{name: make(work, name, c, args.quick) for name, c in SELF_ONLY.items()}}
            for name, (log, labels) in own.items():
                flags, rate = run_self(log, log.with_name(f"{name}.labels.jsonl"), work / f"self-{name}")
                results["distillab-self"][name] = {**score(flags, labels), "flagged_at_fpr": rate}
            seconds["distillab-self"] = time.monotonic() - tick

        if not args.no_baselines:
            tick = time.monotonic()
            embedder = prepared[0]
            honest = account_streams(reference, embedder)
            prada = Prada.fit(honest, TARGET_FPR)
            mmd = WindowMMD(np.concatenate([s[:50] for s in honest.values()]))
            mmd.fit_threshold(honest, TARGET_FPR)
            results["prada"], results["mmd"] = {}, {}
            for name, (log, labels) in logs.items():
                streams = account_streams(log, embedder)
                results["prada"][name] = score({a: prada.first_flag(s) for a, s in streams.items()}, labels)
                results["mmd"][name] = score({a: mmd.first_flag(s) for a, s in streams.items()}, labels)
            seconds["baselines"] = time.monotonic() - tick
            thresholds = {"prada_delta": prada.delta, "mmd_threshold": mmd.threshold}
        else:
            thresholds = {}

    summary = {method: overall(per) for method, per in results.items()}
    print(
        f"{'method':10s} {'scenario':18s} {'recall':>7s} {'hon.FPR':>8s} {'campaigns':>9s} "
        f"{'QUF':>6s}  per strategy"
    )
    for method, per in results.items():
        for name, r in per.items():
            recall = "n/a" if r["recall"] is None else f"{r['recall']:.3f}"
            quf = (
                "n/a"
                if r["median_queries_until_flagged"] is None
                else f"{r['median_queries_until_flagged']:.0f}"
            )
            strategies = " ".join(f"{k}={v:.2f}" for k, v in r["recall_by_strategy"].items())
            rate = f"  (at FPR {r['flagged_at_fpr']:.2g})" if "flagged_at_fpr" in r else ""
            print(
                f"{method:10s} {name:18s} {recall:>7s} {100 * r['honest_fpr']:7.2f}% "
                f"{r['campaigns_detected']:>4d}/{r['campaigns']:<4d} {quf:>6s}  {strategies}{rate}"
            )
    for method, s in summary.items():
        print(
            f"{method:10s} overall: recall {s['recall']:.3f}, honest FPR {100 * s['honest_fpr']:.3f}% of "
            f"{s['honest_accounts']} honest accounts, "
            f"campaigns detected at 5%: {s['campaigns_detected_at_5pct']}, "
            f"median queries until flagged {s['median_queries_until_flagged']}"
            + (
                ", honest accounts flagged at any checkpoint "
                f"{100 * s['honest_ever_flagged_at_checkpoints']:.2f}%"
                if s["honest_ever_flagged_at_checkpoints"] is not None
                else ""
            )
        )
    result = {
        "benchmark": "detect_quality",
        "quick": args.quick,
        "embedder": args.embedder,
        "target_fpr": TARGET_FPR,
        "fdr": FDR,
        "calibration": CALIBRATION,
        "scenarios": SCENARIOS,
        "self_only_scenarios": SELF_ONLY if args.self_calibrated else {},
        "goals": {
            "recall": 0.95,
            "honest_fpr_max": 0.001,
            "campaigns_detected_share_at_5pct": 0.95,
            "median_queries_until_flagged_max": 200,
        },
        "overall": summary,
        "per_scenario": results,
        "thresholds": thresholds,
        "seconds": {k: round(v, 1) for k, v in {**seconds, "total": time.monotonic() - started}.items()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
