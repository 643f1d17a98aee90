"""`run_detect`: stream a request log into per-account stats, link accounts, score, flag, report.

    from distillab.atomic import write_text
from distillab.detect.config import DetectConfig
    from distillab.detect.run import run_detect
    summary = run_detect(DetectConfig(log="requests.jsonl", out="runs/detect", labels="labels.jsonl"))

Memory grows with the number of accounts (bounded word and skeleton sets each), not with the log.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from distillab.atomic import write_text
from distillab.detect.config import DetectConfig
from distillab.detect.features import AccountStats
from distillab.detect.linking import link
from distillab.detect.logs import read_log
from distillab.detect.scoring import Reference, benjamini_hochberg
from distillab.errors import DataError


def collect(source: str, *, progress: bool, console: Console, label: str) -> dict[str, AccountStats]:
    stats: dict[str, AccountStats] = {}
    columns = [SpinnerColumn(), TextColumn(f"{label} {{task.completed:,}} requests"), TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=not progress) as bar:
        job = bar.add_task(label, total=None)
        for n, record in enumerate(read_log(source), start=1):
            account = record["account"]
            entry = stats.get(account)
            if entry is None:
                entry = stats[account] = AccountStats(account)
            entry.add(record)
            if n % 5000 == 0:
                bar.update(job, completed=n)
        bar.update(job, completed=sum(s.n for s in stats.values()))
    return stats


def read_labels(path: Path) -> dict[str, str]:
    """account -> 'benign' or a campaign id, from JSONL or CSV."""
    labels: dict[str, str] = {}
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        items = [(f"{path}:{i + 2}", row) for i, row in enumerate(rows)]
    else:
        items = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    items.append((f"{path}:{i}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{i}: not valid JSON ({exc.msg})") from exc
    for where, row in items:
        if not isinstance(row, dict) or not row.get("account") or not row.get("label"):
            raise DataError(f"{where}: needs 'account' and 'label'")
        labels[str(row["account"])] = str(row["label"])
    return labels


def _metrics(accounts: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    honest = [a for a in accounts if labels.get(a["account"], "benign") == "benign"]
    attackers = [a for a in accounts if labels.get(a["account"], "benign") != "benign"]
    flagged = [a for a in accounts if a["flagged"]]
    true_flags = [a for a in flagged if labels.get(a["account"], "benign") != "benign"]
    campaigns: dict[str, list[dict[str, Any]]] = {}
    for a in attackers:
        campaigns.setdefault(labels[a["account"]], []).append(a)
    return {
        "honest_accounts": len(honest), "campaign_accounts": len(attackers),
        "flagged_accounts": len(flagged),
        "precision": len(true_flags) / len(flagged) if flagged else None,
        "recall": len(true_flags) / len(attackers) if attackers else None,
        "honest_false_positive_rate": sum(a["flagged"] for a in honest) / len(honest) if honest else None,
        "campaigns": {c: {"accounts": len(m), "flagged_accounts": sum(a["flagged"] for a in m),
                          "detected": any(a["flagged"] for a in m)} for c, m in sorted(campaigns.items())},
        "campaigns_detected": sum(any(a["flagged"] for a in m) for m in campaigns.values()),
        "unlabelled_accounts": sum(a["account"] not in labels for a in accounts),
    }


def run_detect(config: DetectConfig, *, console: Console | None = None) -> dict[str, Any]:
    """Score every account and linked group; write the outputs; return the summary."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    stats = collect(config.log, progress=config.progress, console=console, label="reading log")
    if not stats:
        raise DataError(f"{config.log}: no requests")
    links = link(stats.values())
    notes = []
    if config.reference:
        reference_stats = collect(config.reference, progress=config.progress, console=console, label="reference")
    else:
        reference_stats = stats
        notes.append("calibrated on the log's own accounts (no --reference); each account is compared with "
                     "the others")
    reference = Reference([s.features() for s in reference_stats.values()])
    if reference.n < 1 / config.target_fpr:
        notes.append(f"the reference has only {reference.n} accounts: p-values below 1/{reference.n} come from "
                     "the fitted tail; a larger --reference makes them firmer")

    tested: list[dict[str, Any]] = []
    for name, s in stats.items():
        row = s.features()
        scored = reference.score(row, in_reference=not config.reference)
        tested.append({"kind": "account", "id": name, "members": [name], "requests": s.n, "features": row,
                       "score": scored.score, "p_value": scored.p_value,
                       "reasons": reference.reasons(row, scored)})
    group_of = {m: i for i, members in enumerate(links.clusters) for m in members}
    why: dict[int, set[str]] = {}
    for pair, pair_reasons in links.reasons.items():
        first = next(iter(pair))
        if first in group_of:
            why.setdefault(group_of[first], set()).update(pair_reasons)
    for i, members in enumerate(links.clusters):
        pooled = AccountStats(f"group-{i + 1}")
        for m in members:
            pooled.merge(stats[m])
        row = pooled.features(members=len(members))
        scored = reference.score(row)
        tested.append({"kind": "group", "id": f"group-{i + 1}", "members": members, "requests": pooled.n,
                       "features": row, "score": scored.score, "p_value": scored.p_value,
                       "reasons": reference.reasons(row, scored), "linked_by": sorted(why.get(i, set()))[:10]})
    for entry, q in zip(tested, benjamini_hochberg([t["p_value"] for t in tested])):
        entry["q_value"] = q
        entry["flagged"] = entry["p_value"] <= config.target_fpr and q <= config.fdr

    groups = [t for t in tested if t["kind"] == "group"]
    flagged_by_group = {m: g["id"] for g in groups if g["flagged"] for m in g["members"]}
    accounts = []
    for t in tested:
        if t["kind"] != "account":
            continue
        via = "own traffic" if t["flagged"] else flagged_by_group.get(t["id"])
        accounts.append({"account": t["id"], "requests": t["requests"], "score": round(t["score"], 4),
                         "p_value": t["p_value"], "q_value": t["q_value"], "flagged": via is not None,
                         "flagged_by": via, "reasons": t["reasons"], "features": t["features"]})
    accounts.sort(key=lambda a: (a["p_value"], -a["score"]))
    summary: dict[str, Any] = {
        "log": config.log, "reference": config.reference or "the log itself",
        "reference_accounts": reference.n, "target_fpr": config.target_fpr, "fdr": config.fdr,
        "accounts": len(accounts), "requests": sum(s.n for s in stats.values()),
        "groups": len(groups), "flagged_accounts": sum(a["flagged"] for a in accounts),
        "flagged_groups": sum(g["flagged"] for g in groups), "notes": notes,
    }
    if config.labels:
        summary["metrics"] = _metrics(accounts, read_labels(config.labels))
    summary["seconds"] = round(time.monotonic() - started, 2)
    summary["records_per_s"] = round(summary["requests"] / max(summary["seconds"], 1e-9))
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "accounts.jsonl", "".join(json.dumps(a) + "\n" for a in accounts))
    write_text(out / "campaigns.json", json.dumps(sorted(groups, key=lambda g: g["p_value"]), indent=2) + "\n")
    write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    from distillab.detect.report import render

    write_text(out / "report.html", render(summary, accounts, groups))
    return summary
