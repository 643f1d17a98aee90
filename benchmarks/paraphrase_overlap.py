"""Cross-account paraphrase overlap (`distillab.detect.paraphrase`) on the independent generator: is the
signal there, and does its group test hold its null?

    python benchmarks/paraphrase_overlap.py                 # dev logs (seeds 201-206) + 6 honest-only logs
    python benchmarks/paraphrase_overlap.py --null-seeds 6 --accounts 600

Against the development reference (`detect_generalize.DEV_REFERENCE`, seed 901, honest accounts only):

- `signal`: on each development log, the overlap (share of two accounts' kept prompts paraphrased in
  the other) and contrast (overlap over the larger of the two's highest overlap with an honest
  reference account) of pairs within each campaign kind and of honest pairs (quantiles, maximum, how
  many honest pairs pass the reference's `tau`), and the paraphrase groups found, with their members'
  kinds and p-values;
- `null`: honest-only development logs (`traffic.seeds.PARAPHRASE_NULL`): the paraphrase groups found and
  how many would be flagged at `--target-fpr` (3 x p <= target: the group's test is one of three,
  Bonferroni-combined, in `distillab detect`).

Prints and writes benchmarks/results/paraphrase_overlap.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from detect_generalize import make  # noqa: E402

from distillab.detect import paraphrase  # noqa: E402
from distillab.detect.calibrate import collect, open_log  # noqa: E402
from distillab.detect.embeddings import Lexical  # noqa: E402
from distillab.detect.run import prepare_reference  # noqa: E402
from traffic.seeds import DEV, DEV_REFERENCE, PARAPHRASE_NULL  # noqa: E402


def quantiles(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {}
    qs = {"median": 0.5, "q99": 0.99, "q999": 0.999}
    out = {k: round(float(np.quantile(values, q)), 3) for k, q in qs.items()}
    return {**out, "max": round(float(values.max()), 3), "pairs": int(len(values))}


def signal(table: Any, null: paraphrase.ParaphraseNull, kinds: dict[str, tuple[str, str]]) -> dict[str, Any]:
    kept = paraphrase.Kept.of(table)
    within = paraphrase.shares(kept)
    honest = paraphrase.shares(kept, null.reference).max(axis=1)
    contrast = paraphrase.contrast(within, honest)
    labels = [kinds[table.names[r]] for r in kept.rows.tolist()]
    first, second = np.triu_indices(len(kept), 1)
    same = np.array([labels[a] == labels[b] for a, b in zip(first.tolist(), second.tolist())])
    benign = np.array([labels[a][0] == "benign" and labels[b][0] == "benign" for a, b in zip(first, second)])
    out: dict[str, Any] = {"honest pairs": {}, "campaign pairs": {}}
    out["honest pairs"] = {
        "overlap": quantiles(within[first[benign], second[benign]]),
        "contrast": quantiles(contrast[first[benign], second[benign]]),
        "beyond_tau": int(np.count_nonzero(contrast[first[benign], second[benign]] > null.tau)),
    }
    for kind in sorted({k for label, k in labels if label != "benign"}):
        mask = same & np.array([labels[a][1] == kind and labels[a][0] != "benign" for a in first.tolist()])
        out["campaign pairs"][kind] = {
            "overlap": quantiles(within[first[mask], second[mask]]),
            "contrast": quantiles(contrast[first[mask], second[mask]]),
            "beyond_tau": int(np.count_nonzero(contrast[first[mask], second[mask]] > null.tau)),
        }
    out["groups"] = groups(table, null, kinds)
    return out


def groups(
    table: Any, null: paraphrase.ParaphraseNull, kinds: dict[str, tuple[str, str]]
) -> list[dict[str, Any]]:
    return [
        {
            "accounts": len(g.members),
            "links": g.links,
            "p_value": g.p_value,
            "kinds": dict(
                Counter(
                    kinds[m][1] if kinds[m][0] == "benign" else f"campaign:{kinds[m][1]}" for m in g.members
                )
            ),
        }
        for g in paraphrase.paraphrase_groups(table, null)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--null-seeds", type=int, default=6, help=f"honest-only logs (seeds from {PARAPHRASE_NULL.start})"
    )
    parser.add_argument(
        "--accounts", type=int, default=600, help="accounts per honest-only log (before the campaigns leave)"
    )
    parser.add_argument("--target-fpr", type=float, default=0.001)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/paraphrase_overlap.json")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        reference = make(work, "reference", *DEV_REFERENCE, honest=True)
        tick = time.monotonic()
        embedder, calibration = prepare_reference(reference["log"])
        null = calibration.paraphrase
        assert null is not None
        prepared = time.monotonic() - tick
        print(
            f"reference: {reference['accounts']} accounts; tau {null.tau:.3f}, "
            f"honest pair rate {null.rate:.2e}, "
            f"inflation {null.inflation:.2f} from {null.groups} honest groups on its halves "
            f"(smallest exact p {null.smallest_p:.2g}); prepared in {prepared:.1f} s"
        )
        dev: dict[str, Any] = {}
        for name, (seed, accounts, days) in DEV.items():
            log = make(work, name, seed, accounts, days)
            _, batches = open_log(log["log"], embedder)
            table = collect(batches, embedder, Lexical(embedder))
            tick = time.monotonic()
            dev[name] = signal(table, null, log["kinds"])
            dev[name]["seconds_overlap"] = round(time.monotonic() - tick, 2)
            slow = dev[name]["campaign pairs"].get("low-and-slow", {})
            honest = dev[name]["honest pairs"]
            print(
                f"{name}: low-and-slow pairs overlap {slow.get('overlap')}, contrast {slow.get('contrast')}, "
                f"{slow.get('beyond_tau')} beyond tau; honest pairs overlap {honest['overlap']}, "
                f"contrast {honest['contrast']}, {honest['beyond_tau']} beyond tau"
            )
            for g in dev[name]["groups"]:
                print(
                    f"   group {g['accounts']} accounts, {g['links']} links, p {g['p_value']:.2g}: ", end=""
                )
                print(g["kinds"])
        nulls: dict[str, Any] = {}
        for seed in list(PARAPHRASE_NULL)[: args.null_seeds]:
            log = make(work, f"honest{seed}", seed, args.accounts, 7, honest=True)
            _, batches = open_log(log["log"], embedder)
            table = collect(batches, embedder, Lexical(embedder))
            found = groups(table, null, log["kinds"])
            flagged = [g for g in found if 3 * g["p_value"] <= args.target_fpr]
            nulls[f"honest{seed}"] = {
                "accounts": log["accounts"],
                "groups": found,
                "flagged_groups": len(flagged),
            }
            smallest = min((g["p_value"] for g in found), default=1.0)
            print(
                f"honest-only seed {seed}: {log['accounts']} accounts, {len(found)} paraphrase groups, "
                f"smallest p {smallest:.2g}, flagged at {args.target_fpr}: {len(flagged)}"
            )
    result = {
        "benchmark": "paraphrase_overlap",
        "reference": {
            "seed": DEV_REFERENCE[0],
            "accounts": reference["accounts"],
            "tau": null.tau,
            "rate": null.rate,
            "inflation": null.inflation,
            "honest_groups_on_halves": null.groups,
            "smallest_honest_exact_p": null.smallest_p,
        },
        "dev": dev,
        "null": nulls,
        "target_fpr": args.target_fpr,
        "null_groups_flagged": sum(v["flagged_groups"] for v in nulls.values()),
        "seconds": round(time.monotonic() - started, 1),
        "load_average": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
