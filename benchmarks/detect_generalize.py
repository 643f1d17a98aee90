"""`distillab detect` on traffic from the independent generator (tests/traffic), at default settings.

    python benchmarks/detect_generalize.py            # 3 held-out logs (600, 600, 300 accounts, a week)
    python benchmarks/detect_generalize.py --quick    # 2 smaller logs, 3 days
    python benchmarks/detect_generalize.py --heldout-2                 # a second held-out set (HELDOUT_2)
    python benchmarks/detect_generalize.py --reference-accounts 400    # a smaller (or larger) reference
    python benchmarks/detect_generalize.py --dev --work runs/dev       # the development logs, kept
    python benchmarks/detect_generalize.py --null --reference-accounts 2000 --no-self  # honest-only logs
    python benchmarks/detect_generalize.py --dev-2 --no-self     # more development logs (also --null-dev-2)
    python benchmarks/detect_generalize.py --heldout-3 --no-self # held out (also --null-3)
    python benchmarks/detect_generalize.py --heldout-4 --no-self # held out, own reference (also --null-4)
    python benchmarks/detect_generalize.py --heldout-5 --no-self # held out, own reference (also --null-5)

The detector was tuned on `distillab.detect.simulate`; tests/traffic was written apart from it, from
public descriptions of distillation campaigns, with honest personas of its own. Nothing here tunes the
detector: each log is run through the `distillab detect` CLI twice, as a user would,

- `reference`: `--reference` honest-only traffic from another seed of the same generator;
- `self`: no reference (the log calibrates itself),

both with `--labels` (so checkpoints every 2 hours of log time, the default with a reference) and all
other options at their defaults. Reported per log and mode, and summed over the logs: recall per
campaign kind (accounts flagged / accounts) and whether each campaign was detected (any account),
honest false positives per persona, flagged counts, how accounts were flagged (own traffic or through a
linked group), median requests until flagged, median p-value, and the CLI's own summary metrics
(precision, honest accounts ever flagged at a checkpoint, ...). With a reference, also the honest-group
calibration check: every linked group of honest accounts only, and per test (the group's combined
p-value, its pooled traffic's, its rank test's) and kind of link the share with p <= alpha for alpha
in 0.001..0.1, which a calibrated test keeps at most alpha (in an honest-only log every group
counts). Also the seconds (wall and CPU) each log took to generate and write. Writes
benchmarks/results/detect_generalize-SET-EMBEDDER[-refN].json.

Seeds: LOGS, HELDOUT_2 to HELDOUT_5 and NULL_HELDOUT to NULL_HELDOUT_4 are held out (reported, never
developed on; HELDOUT_4 and NULL_HELDOUT_3 with REFERENCE_4, HELDOUT_5 and NULL_HELDOUT_4 with
REFERENCE_5); DEV, DEV_2, NULL_DEV, NULL_DEV_2 and DEV_REFERENCE are for development.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from traffic import Traffic, TrafficConfig, generate, write_labels, write_log  # noqa: E402
from traffic.seeds import (  # noqa: E402
    DEV,
    DEV_2,
    DEV_REFERENCE,
    HELDOUT_2,
    HELDOUT_3,
    HELDOUT_4,
    HELDOUT_5,
    LOGS,
    NULL_DEV,
    NULL_DEV_2,
    NULL_HELDOUT,
    NULL_HELDOUT_2,
    NULL_HELDOUT_3,
    NULL_HELDOUT_4,
    QUICK_LOGS,
    QUICK_REFERENCE,
    REFERENCE,
    REFERENCE_4,
    REFERENCE_5,
)

HONEST_SHARE = 0.85
"""Below the generator's honest share (about 0.9), so that `--reference-accounts` always has enough."""


def make(
    work: Path,
    name: str,
    seed: int,
    accounts: int,
    days: int,
    *,
    honest: bool = False,
    keep: int | None = None,
) -> dict[str, Any]:
    """Generate and write one log; `honest`: its honest accounts only, `keep` of them (drawn at random
    with the seed) when given."""
    tick, cpu = time.monotonic(), time.process_time()
    if keep is not None:
        accounts = math.ceil(keep / HONEST_SHARE) + 20
    traffic = generate(TrafficConfig(accounts=accounts, seed=seed, days=days))
    if honest:
        traffic = traffic.honest()
    if keep is not None:
        traffic = subset(traffic, keep, seed)
    generated, generated_cpu = time.monotonic() - tick, time.process_time() - cpu
    log = work / f"{name}.parquet"
    write_log(traffic, log)
    write_labels(traffic, work / f"{name}.labels.jsonl")
    return {
        "log": log,
        "labels": work / f"{name}.labels.jsonl",
        "kinds": {a.name: (a.label, a.kind) for a in traffic.accounts},
        "requests": len(traffic.records),
        "accounts": len({r["account"] for r in traffic.records}),
        "seconds_generate": round(generated, 2),
        "seconds_generate_cpu": round(generated_cpu, 2),
        "seconds_generate_and_write": round(time.monotonic() - tick, 2),
        "seconds_generate_and_write_cpu": round(time.process_time() - cpu, 2),
    }


def subset(traffic: Traffic, keep: int, seed: int) -> Traffic:
    """`keep` of the traffic's accounts, drawn at random (records renumbered, as `Traffic.honest` does)."""
    if keep > len(traffic.accounts):
        raise SystemExit(f"--reference-accounts {keep}: the generator gave only {len(traffic.accounts)}")
    chosen = random.Random(seed).sample(range(len(traffic.accounts)), keep)
    accounts = [traffic.accounts[i] for i in sorted(chosen)]
    names = {a.name for a in accounts}
    records = [dict(r) for r in traffic.records if r["account"] in names]
    for i, r in enumerate(records, start=1):
        r["id"] = i
    return Traffic(records, accounts, traffic.start, traffic.release_at, traffic.proxy_networks)


def detect(log: dict[str, Any], out: Path, reference: Path | None, embedder: str) -> dict[str, Any]:
    """Run the CLI at default settings (but `--embedder`); returns its summary.json, accounts and wall
    time."""
    args = [sys.executable, "-m", "distillab.cli.main", "detect", "--log", str(log["log"])]
    args += ["--labels", str(log["labels"]), "--out", str(out), "--no-progress", "--embedder", embedder]
    if reference is not None:
        args += ["--reference", str(reference)]
    tick = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - tick
    accounts = [json.loads(line) for line in (out / "accounts.jsonl").read_text().splitlines() if line]
    summary = json.loads((out / "summary.json").read_text())
    groups = json.loads((out / "campaigns.json").read_text())
    return {"summary": summary, "accounts": accounts, "groups": groups, "seconds": seconds}


ALPHAS = (0.001, 0.005, 0.01, 0.05, 0.1)
"""Levels of the honest-group calibration check: a calibrated test gives at most a share alpha of
honest groups a p-value at most alpha."""


def honest_groups(groups: list[dict[str, Any]], kinds: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """The log's linked groups of honest accounts only: size, how linked (on behaviour or paraphrase, or
    on metadata alone), personas, and their p-values (combined, pooled traffic, rank test)."""
    out = []
    for g in groups:
        if any(kinds[m][0] != "benign" for m in g["members"]):
            continue
        linked = " ".join(g["linked_by"])
        out.append(
            {
                "id": g["id"],
                "accounts": len(g["members"]),
                "linked": "behaviour" if "behave alike" in linked or "paraphrase" in linked else "metadata",
                "personas": sorted({kinds[m][1] for m in g["members"]}),
                "p_value": g["p_value"],
                "pooled_p_value": g["pooled_p_value"],
                "rank_p_value": g["rank_test"]["p_value"] if g["rank_test"] else None,
                "flagged": g["flagged"],
            }
        )
    return out


def calibration_check(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Per test and per kind of link: honest groups, and the share with p <= alpha for each of ALPHAS
    (at most alpha where the test is calibrated)."""
    out: dict[str, Any] = {}
    for test in ("p_value", "pooled_p_value", "rank_p_value"):
        for linked in ("all", "behaviour", "metadata"):
            p = [g[test] for g in groups if g[test] is not None and linked in ("all", g["linked"])]
            out[f"{test}/{linked}"] = {
                "groups": len(p),
                "smallest": min(p) if p else None,
                **{f"share_at_{a:g}": sum(x <= a for x in p) / len(p) if p else None for a in ALPHAS},
            }
    return out


def score(accounts: list[dict[str, Any]], kinds: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Per campaign kind and per honest persona: accounts, flagged, how, and when."""
    per: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"accounts": 0, "flagged": 0, "by": defaultdict(int)}
    )
    until: dict[str, list[int]] = defaultdict(list)
    p_values: dict[str, list[float]] = defaultdict(list)
    family_p: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for a in accounts:
        label, kind = kinds[a["account"]]
        p_values[kind].append(a["p_value"])
        for family, value in a["p_by_behaviour"].items():
            family_p[kind][family].append(value)
        row = per[kind]
        row["campaign"] = label != "benign"
        row["accounts"] += 1
        if a["flagged"]:
            row["flagged"] += 1
            by = a.get("flagged_by") or "?"
            row["by"][by if by == "own traffic" or by.startswith("indicator") else "linked group"] += 1
            if a.get("flagged_after_requests") is not None:
                until[kind].append(a["flagged_after_requests"])
    campaigns, honest = {}, {}
    for kind, row in sorted(per.items()):
        entry = {
            "accounts": row["accounts"],
            "flagged": row["flagged"],
            "flagged_by": dict(row["by"]),
            "median_requests_until_flagged": statistics.median(until[kind]) if until[kind] else None,
            "median_p_value": statistics.median(p_values[kind]),
            "median_p_by_behaviour": {f: statistics.median(v) for f, v in family_p[kind].items()},
            "smallest_p_by_behaviour": {f: min(v) for f, v in family_p[kind].items()},
        }
        if row["campaign"]:
            campaigns[kind] = {
                **entry,
                "recall": row["flagged"] / row["accounts"],
                "detected": row["flagged"] > 0,
            }
        else:
            honest[kind] = {**entry, "false_positive_rate": row["flagged"] / row["accounts"]}
    return {
        "campaigns": campaigns,
        "honest": honest,
        "campaign_accounts": sum(c["accounts"] for c in campaigns.values()),
        "campaign_accounts_flagged": sum(c["flagged"] for c in campaigns.values()),
        "honest_accounts": sum(h["accounts"] for h in honest.values()),
        "honest_accounts_flagged": sum(h["flagged"] for h in honest.values()),
    }


def total(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over logs: recall per kind, honest false positives per persona."""
    out: dict[str, Any] = {"campaigns": {}, "honest": {}}
    for part, rate in (("campaigns", "recall"), ("honest", "false_positive_rate")):
        kinds = sorted({k for r in results for k in r[part]})
        for kind in kinds:
            rows = [r[part][kind] for r in results if kind in r[part]]
            accounts, flagged = sum(r["accounts"] for r in rows), sum(r["flagged"] for r in rows)
            out[part][kind] = {"accounts": accounts, "flagged": flagged, rate: flagged / accounts}
            if part == "campaigns":
                out[part][kind]["detected_in_logs"] = f"{sum(r['detected'] for r in rows)}/{len(rows)}"
    for key in (
        "campaign_accounts",
        "campaign_accounts_flagged",
        "honest_accounts",
        "honest_accounts_flagged",
    ):
        out[key] = sum(r[key] for r in results)
    out["recall"] = out["campaign_accounts_flagged"] / max(1, out["campaign_accounts"])
    out["honest_false_positive_rate"] = out["honest_accounts_flagged"] / max(1, out["honest_accounts"])
    return out


def show(name: str, mode: str, result: dict[str, Any]) -> None:
    print(
        f"{name} [{mode}]: campaign accounts flagged {result['campaign_accounts_flagged']}/"
        f"{result['campaign_accounts']}, honest flagged {result['honest_accounts_flagged']}/"
        f"{result['honest_accounts']}"
    )
    for kind, c in result["campaigns"].items():
        print(
            f"    {kind:16s} recall {c['recall']:.2f} ({c['flagged']}/{c['accounts']}) by {c['flagged_by']}, "
            f"median p {c['median_p_value']:.2g}"
        )
    for kind, h in result["honest"].items():
        if h["flagged"]:
            print(f"    honest {kind:9s} false positives {h['flagged']}/{h['accounts']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--embedder",
        default="auto",
        choices=("auto", "minilm", "lexical"),
        help="prompt embeddings for behavioural linking (auto: MiniLM where installed)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="two smaller logs of 3 days (a smoke run)")
    which.add_argument("--heldout-2", action="store_true", help="the second held-out set (HELDOUT_2)")
    which.add_argument("--dev", action="store_true", help="the development logs (DEV, DEV_REFERENCE)")
    which.add_argument("--null", action="store_true", help="honest-only development logs (NULL_DEV)")
    which.add_argument("--null-2", action="store_true", help="honest-only held-out logs (NULL_HELDOUT)")
    which.add_argument("--dev-2", action="store_true", help="more development logs (DEV_2, DEV_REFERENCE)")
    which.add_argument(
        "--null-dev-2", action="store_true", help="more honest-only development logs (NULL_DEV_2)"
    )
    which.add_argument("--heldout-3", action="store_true", help="the third held-out set (HELDOUT_3)")
    which.add_argument("--null-3", action="store_true", help="honest-only held-out logs (NULL_HELDOUT_2)")
    which.add_argument(
        "--heldout-4", action="store_true", help="the fourth held-out set (HELDOUT_4, REFERENCE_4)"
    )
    which.add_argument(
        "--null-4", action="store_true", help="honest-only held-out logs (NULL_HELDOUT_3, REFERENCE_4)"
    )
    which.add_argument(
        "--heldout-5", action="store_true", help="the fifth held-out set (HELDOUT_5, REFERENCE_5)"
    )
    which.add_argument(
        "--null-5", action="store_true", help="honest-only held-out logs (NULL_HELDOUT_4, REFERENCE_5)"
    )
    parser.add_argument(
        "--reference-accounts",
        type=int,
        default=None,
        help="honest accounts in the reference, drawn from a larger log of its seed (default: all the "
        "honest accounts of its 1100-account log, about 985)",
    )
    parser.add_argument(
        "--no-self", action="store_true", help="skip the self-calibrated runs (they do not use the reference)"
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--work", type=Path, default=None, help="keep the logs and detect outputs here (default: a temp dir)"
    )
    args = parser.parse_args()
    sets = {
        "quick": QUICK_LOGS,
        "heldout_2": HELDOUT_2,
        "dev": DEV,
        "null": NULL_DEV,
        "null_2": NULL_HELDOUT,
        "dev_2": DEV_2,
        "null_dev_2": NULL_DEV_2,
        "heldout_3": HELDOUT_3,
        "null_3": NULL_HELDOUT_2,
        "heldout_4": HELDOUT_4,
        "null_4": NULL_HELDOUT_3,
        "heldout_5": HELDOUT_5,
        "null_5": NULL_HELDOUT_4,
    }
    logs_name = next((name for name in sets if getattr(args, name)), "heldout")
    logs_spec = sets.get(logs_name, LOGS)
    honest_only = logs_name in ("null", "null_2", "null_dev_2", "null_3", "null_4", "null_5")
    developing = args.dev or args.null or args.dev_2 or args.null_dev_2
    reference_spec = (
        QUICK_REFERENCE
        if args.quick
        else DEV_REFERENCE
        if developing
        else REFERENCE_4
        if args.heldout_4 or args.null_4
        else REFERENCE_5
        if args.heldout_5 or args.null_5
        else REFERENCE
    )
    logs_name = logs_name.replace("_", "-")
    if args.out is None:
        suffix = f"-{logs_name}-{args.embedder}" + (
            f"-ref{args.reference_accounts}" if args.reference_accounts else ""
        )
        args.out = ROOT / f"benchmarks/results/detect_generalize{suffix}.json"
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    mode_names = ("reference",) if args.no_self else ("reference", "self")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        reference = make(work, "reference", *reference_spec, honest=True, keep=args.reference_accounts)
        print(f"reference: {reference['accounts']} honest accounts, {reference['requests']} requests")
        modes = [(m, reference["log"] if m == "reference" else None) for m in mode_names]
        for name, (seed, accounts, days) in logs_spec.items():
            log = make(work, name, seed, accounts, days, honest=honest_only)
            wall, cpu = log["seconds_generate_and_write"], log["seconds_generate_and_write_cpu"]
            print(
                f"{name}: {log['accounts']} accounts, {log['requests']} requests, generated and written in "
                f"{wall:.1f} s ({cpu:.1f} s CPU)"
            )
            results[name] = {
                k: v for k, v in log.items() if k in ("requests", "accounts") or k.startswith("seconds")
            }
            for mode, ref in modes:
                run = detect(log, work / f"out-{name}-{mode}", ref, args.embedder)
                scored = score(run["accounts"], log["kinds"])
                results[name][mode] = {
                    **scored,
                    "honest_groups": honest_groups(run["groups"], log["kinds"]),
                    "cli_metrics": run["summary"].get("metrics"),
                    "cli_notes": run["summary"].get("notes"),
                    "embedder": run["summary"].get("embedder"),
                    "seconds_detect": round(run["seconds"], 1),
                }
                show(name, mode, scored)
    overall = {mode: total([r[mode] for r in results.values()]) for mode in mode_names}
    for mode in ("reference",) if "reference" in mode_names else ():
        check = calibration_check([g for r in results.values() for g in r[mode]["honest_groups"]])
        overall[mode]["honest_group_calibration"] = check
        for key in ("p_value/all", "p_value/behaviour", "pooled_p_value/all", "rank_p_value/all"):
            c = check[key]
            shares = " ".join(f"{a:g}:{c[f'share_at_{a:g}']:.3f}" for a in ALPHAS) if c["groups"] else "-"
            print(f"honest groups [{key}]: {c['groups']} groups, share with p <= alpha {shares}")
    for mode, o in overall.items():
        recalls = " ".join(f"{k}={v['recall']:.2f}" for k, v in o["campaigns"].items())
        fps = " ".join(f"{k}={v['flagged']}/{v['accounts']}" for k, v in o["honest"].items() if v["flagged"])
        print(
            f"overall [{mode}]: recall {o['recall']:.3f} ({recalls}); honest false positives "
            f"{o['honest_accounts_flagged']}/{o['honest_accounts']} ({fps or 'none'})"
        )
    result = {
        "benchmark": "detect_generalize",
        "quick": args.quick,
        "logs_set": logs_name,
        "generator": "tests/traffic (independent of distillab.detect.simulate)",
        "detector_settings": "defaults of `distillab detect` (target FPR 0.001, FDR 0.05; checkpoints every "
        "2 h with --reference and --labels)",
        "reference": {
            "seed_accounts_days": reference_spec,
            "reference_accounts_option": args.reference_accounts,
            "honest_accounts": reference["accounts"],
            "requests": reference["requests"],
        },
        "embedder": args.embedder,
        "logs": {name: {"seed": s, "accounts": a, "days": d} for name, (s, a, d) in logs_spec.items()},
        "overall": overall,
        "per_log": results,
        "seconds_total": round(time.monotonic() - started, 1),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
