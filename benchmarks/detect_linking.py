"""Behavioural linking and group tests: campaigns that share no payment id, org or network, with the
MiniLM sentence embeddings and with the lexical fallback.

    python benchmarks/detect_linking.py                          # every embedder installed
    python benchmarks/detect_linking.py --embedders lexical      # the fallback only (seconds, not minutes)
    python benchmarks/detect_linking.py --quick

Scenarios (nothing here was tuned on; the simulator seeds differ from those the tests and the tuning
used):

- `edge-hydra`: the issue's shape, hand-built (tests/detect/detect_world.py): an honest reference of
  384 accounts whose most extreme are a benchmark runner and a tutoring app, and a log of 150 honest
  users, another benchmark runner and tutoring app, and a 60-account hydra whose accounts each have
  their own payment id, org and /24, alike in what they ask, how and when. Alone, each hydra account is
  beaten by the tutoring app in every behaviour (p = 3 x 2/385 after Bonferroni); the question is
  whether the group is found and certified.
- `sim-*`: `distillab simulate` traffic (all campaign kinds) with `payment_id`, `org` and `ip` removed
  from every record, calibrated on honest simulated traffic of another seed; `sim-honest` has no
  campaigns (the null: no group may be flagged).

`distillab detect` runs in process with `--reference` at the default target FPR (0.1%) and no
checkpoints. Reported per embedder and scenario: recall per campaign kind (and how many accounts were
flagged only through a group), honest false-positive rate, linked groups (and how many on behaviour),
flagged groups (honest ones named), the hydra's group p-value and its accounts' own; seconds to prepare
the reference and to run, records/s, and prompts run through MiniLM (each distinct prompt once: its
cache). Writes benchmarks/results/detect_linking.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "detect"))

from detect_world import hydra, reasoning_benchmark, tutor, world  # noqa: E402

from distillab.detect import embeddings  # noqa: E402
from distillab.detect.config import DetectConfig  # noqa: E402
from distillab.detect.run import prepare_reference, run_detect  # noqa: E402
from distillab.detect.simulate import SimulateConfig, read_labels, simulate  # noqa: E402

REFERENCE = {"seed": 301, "accounts": 500, "days": 2.0, "attacker_share": 0.0}
SCENARIOS = {
    "sim-5pct": {"seed": 302, "accounts": 300, "days": 3.0, "attacker_share": 0.05},
    "sim-10pct": {"seed": 303, "accounts": 300, "days": 3.0, "attacker_share": 0.10},
    "sim-honest": {"seed": 304, "accounts": 400, "days": 2.0, "attacker_share": 0.0},
}
QUICK = {"accounts": 150, "days": 1.0}
HYDRA = 60
STRIPPED = ("payment_id", "org", "ip")


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def edge_hydra(work: Path) -> tuple[Path, Path, dict[str, dict[str, str]]]:
    rng = random.Random(16)
    reference, _ = world(seed=160, honest=382, heavy=False, spread=0)
    reference += reasoning_benchmark(rng, "bench-ref") + tutor(rng, "tutor-ref")
    log, plain = world(seed=161, honest=150, heavy=False, spread=0)
    log += reasoning_benchmark(rng, "bench-log") + tutor(rng, "tutor-log") + hydra(rng, HYDRA)
    log.sort(key=lambda r: r["ts"])
    labels = {a: {"label": "benign", "kind": "chat"} for a in plain}
    labels["bench-log"] = {"label": "benign", "kind": "benchmark"}
    labels["tutor-log"] = {"label": "benign", "kind": "tutor"}
    labels.update({f"hydra-{j}": {"label": "c-hydra", "kind": "hydra"} for j in range(HYDRA)})
    return write_jsonl(work / "edge-ref.jsonl", reference), write_jsonl(work / "edge.jsonl", log), labels


def stripped(work: Path, name: str, settings: dict[str, Any], quick: bool) -> tuple[Path, dict[str, Any]]:
    options = {**settings, **({k: min(v, settings[k]) for k, v in QUICK.items()} if quick else {})}
    raw = work / f"{name}-raw.parquet"
    simulate(SimulateConfig(out=raw, **options))
    table = pq.read_table(raw)
    for column in STRIPPED:
        if column in table.column_names:
            i = table.column_names.index(column)
            table = table.set_column(i, column, pa.nulls(len(table), pa.string()))
    out = work / f"{name}.parquet"
    pq.write_table(table, out)
    return out, read_labels(work / f"{name}-raw.labels.jsonl")


def evaluate(
    log: Path, labels: dict[str, dict[str, str]], reference: Path, prepared: Any, embedder: str, out: Path
) -> dict[str, Any]:
    started = time.monotonic()
    summary = run_detect(
        DetectConfig(
            log=str(log),
            out=out,
            reference=str(reference),
            checkpoint_hours=0,
            progress=False,
            embedder=embedder,
        ),
        prepared=prepared,
    )
    seconds = time.monotonic() - started
    rows = {r["account"]: r for r in map(json.loads, (out / "accounts.jsonl").open())}
    groups = json.loads((out / "campaigns.json").read_text())
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    honest = [a for a, v in labels.items() if v["label"] == "benign" and a in rows]
    for account, v in labels.items():
        if v["label"] != "benign" and account in rows:
            row = kinds[v["kind"]]
            row[0] += 1
            row[1] += rows[account]["flagged"]
            row[2] += rows[account]["flagged_by"] not in (None, "own traffic")
    attackers = sum(k[0] for k in kinds.values())
    flagged_groups = [g for g in groups if g["flagged"]]
    result: dict[str, Any] = {
        "accounts": summary.accounts,
        "requests": summary.requests,
        "recall": sum(k[1] for k in kinds.values()) / attackers if attackers else None,
        "recall_by_kind": {k: f"{v[1]}/{v[0]} ({v[2]} through a group)" for k, v in sorted(kinds.items())},
        "honest_accounts": len(honest),
        "honest_flagged": sum(rows[a]["flagged"] for a in honest),
        "honest_fpr": sum(rows[a]["flagged"] for a in honest) / len(honest),
        "groups": len(groups),
        "groups_linked_on_behaviour": sum(any("behave alike" in r for r in g["linked_by"]) for g in groups),
        "flagged_groups": len(flagged_groups),
        "honest_groups_flagged": sum(
            all(labels.get(m, {"label": "benign"})["label"] == "benign" for m in g["members"])
            for g in flagged_groups
        ),
        "smallest_honest_group_rank_p": min(
            (
                g["rank_test"]["p_value"]
                for g in groups
                if g["rank_test"]
                and all(labels.get(m, {"label": "benign"})["label"] == "benign" for m in g["members"])
            ),
            default=None,
        ),
        "seconds": round(seconds, 1),
        "records_per_s": round(summary.requests / seconds),
        "embedder": summary.embedder,
    }
    hydra_group = next((g for g in groups if "hydra-0" in g["members"]), None)
    if hydra_group is not None:
        result["hydra"] = {
            "group_members": len(hydra_group["members"]),
            "group_p": hydra_group["p_value"],
            "rank_test": hydra_group["rank_test"],
            "median_own_p": statistics.median(rows[f"hydra-{j}"]["p_value"] for j in range(HYDRA)),
            "flagged_on_own_traffic": sum(
                rows[f"hydra-{j}"]["flagged_by"] == "own traffic" for j in range(HYDRA)
            ),
            "linked_by": hydra_group["linked_by"][:2],
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    installed = ["lexical", "minilm"] if embeddings.minilm_installed() else ["lexical"]
    parser.add_argument("--embedders", default=",".join(installed), help="comma-separated: lexical,minilm")
    parser.add_argument("--quick", action="store_true", help="smaller simulated scenarios")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/detect_linking.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        edge_reference, edge_log, edge_labels = edge_hydra(work)
        sim_reference = work / "reference.parquet"  # --quick keeps it: p-values need a large reference
        simulate(SimulateConfig(out=sim_reference, **REFERENCE))
        logs = {name: stripped(work, name, settings, args.quick) for name, settings in SCENARIOS.items()}
        for embedder in args.embedders.split(","):
            per: dict[str, Any] = {}
            model = embeddings.minilm() if embedder == "minilm" else None
            for name, reference, scenarios in (
                ("edge", edge_reference, {"edge-hydra": (edge_log, edge_labels)}),
                ("sim", sim_reference, logs),
            ):
                before = model.embedded if model is not None else 0
                started = time.monotonic()
                prepared = prepare_reference(reference, embedder=embedder)
                per[f"{name}-reference"] = {
                    "seconds": round(time.monotonic() - started, 1),
                    "units": prepared[1].n,
                    "group_null": {
                        k: v
                        for k, v in vars(prepared[1].group_null).items()
                        if k not in ("exact_p", "pooled_p", "alike")
                    },
                }
                for scenario, (log, labels) in scenarios.items():
                    per[scenario] = evaluate(
                        log, labels, reference, prepared, embedder, work / f"{embedder}-{scenario}"
                    )
                if model is not None:
                    per[f"{name}-prompts_through_minilm"] = model.embedded - before
                print(json.dumps({embedder: {k: v for k, v in per.items() if k.startswith(name)}}, indent=1))
            results[embedder] = per
    result = {
        "benchmark": "detect_linking",
        "quick": args.quick,
        "reference": REFERENCE,
        "scenarios": SCENARIOS,
        "stripped_fields": STRIPPED,
        "results": results,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
