"""`run_detect`: stream a request log into per-account stats, link accounts, score, flag, report.

    from distillab.detect.config import DetectConfig
    from distillab.detect.run import run_detect
    summary = run_detect(DetectConfig(log="requests.jsonl", out="runs/detect", reference="honest.parquet",
                                      labels="labels.jsonl"))
    summary.flagged_accounts, summary.metrics.recall

Memory grows with the number of accounts (fixed-size sketches each), not with the log. With a
reference and `checkpoint_hours` (by default when labels are given), the log is also scored at
checkpoints of log time, as a live detector would see it, which gives each flagged account the number
of requests it had made when it was first flagged (queries until flagged).
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from distillab.atomic import write_text
from distillab.detect.assess import assess, flags, link_all, overlaps_for
from distillab.detect.calibrate import Units, calibrate, collect, open_log, prefetch
from distillab.detect.certify import at_smallest, certification, message
from distillab.detect.config import DetectConfig
from distillab.detect.embeddings import Lexical, PromptEmbedder, choose
from distillab.detect.features import FEATURES, StatsTable
from distillab.detect.indicators import IndicatorIndex, IndicatorTally, read_key
from distillab.detect.linking import ALIKE
from distillab.detect.logs import Columns
from distillab.detect.result import CampaignMetrics, Certification, DetectMetrics, DetectSummary
from distillab.detect.scoring import FAMILIES, Calibration
from distillab.detect.selfcal import self_calibrate
from distillab.detect.text import Embedder
from distillab.errors import DataError


def _checkpoints(batches: Any, hours: float) -> Any:
    """The batches, cut where log time crosses each checkpoint; yields (columns, checkpoint_reached)."""
    step = hours * 3600
    next_at = None
    for columns in batches:
        start = 0
        if next_at is None and len(columns):
            next_at = float(columns.ts[0]) + step
        while next_at is not None and start < len(columns):
            due = columns.ts[start:] >= next_at
            if not due.any():
                break
            cut = start + int(due.argmax())
            yield columns.slice(start, cut), True
            start = cut
            next_at = max(next_at + step, float(columns.ts[cut]) // step * step + step)
        yield columns.slice(start, len(columns)), False


def _counted(batches: Iterator[Columns], console: Console, *, enabled: bool, label: str) -> Iterator[Columns]:
    """The same batches, counting their records on a progress line (a log's length is not known ahead)."""
    columns_ = [SpinnerColumn(), TextColumn(f"{label} {{task.completed:,}} requests"), TimeElapsedColumn()]
    with Progress(*columns_, console=console, disable=not enabled, transient=False) as bar:
        job = bar.add_task(label, total=None)
        for columns in batches:
            yield columns
            bar.advance(job, len(columns))


def prepare_reference(
    source: str | Path, console: Console | None = None, progress: bool = False, *, embedder: str = "lexical"
) -> tuple[Embedder, Calibration]:
    """The embedder fitted on an honest reference log and the calibration on its accounts; `embedder`
    (auto|minilm|lexical) embeds prompts for behavioural linking. `distillab detect --embedder` and the
    live detector's `--detect-embedder` pass theirs (both default to auto, so live and offline score
    alike); lexical here, for callers that name none."""
    lexical, batches = open_log(source)
    batches = _counted(batches, console or Console(stderr=True), enabled=progress, label="reference")
    return lexical, calibrate(collect(batches, lexical, choose(embedder, lexical)))


def prompt_embedder(embedder: Embedder, calibration: Calibration | None, choice: str) -> PromptEmbedder:
    """The prompt embedder for a log scored against `calibration`: the one its reference was profiled
    with (profiles from two models do not compare). Without a reference behaviour does not link, so
    the lexical one, which costs nothing extra (`features.StatsTable` reuses the topics' vectors)."""
    if calibration is not None and calibration.behaviour is not None:
        return choose(calibration.behaviour.prompts, embedder)
    return Lexical(embedder)


def run_detect(
    config: DetectConfig,
    *,
    console: Console | None = None,
    prepared: tuple[Embedder, Calibration] | None = None,
) -> DetectSummary:
    """Score every account and linked group; write the outputs; return the summary. `prepared`: the
    result of `prepare_reference(config.reference)`, when several logs are scored against one reference."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    notes: list[str] = []
    reference: Calibration | None = None
    embedder = None
    cert: Certification | None = None
    if config.reference:
        embedder, reference = prepared or prepare_reference(
            config.reference, console, config.progress, embedder=config.embedder
        )
        cert = _announce(certification(reference, config.target_fpr), console, notes, self_reference=False)
    embedder, batches = open_log(config.log, embedder)
    batches = _counted(batches, console, enabled=config.progress, label="reading log")
    prompts = prompt_embedder(embedder, reference, config.embedder)
    table = StatsTable(embedder, prompts)
    tally = _tally(config)
    first_flag: dict[str, int] = {}
    checkpoints = 0
    hours = config.checkpoint_hours or 0.0
    overlaps = overlaps_for(reference)
    if reference is not None and hours > 0:
        for columns, reached in _checkpoints(prefetch(batches), hours):
            table.update(columns)
            if tally is not None:
                tally.add_columns(columns)
            if reached and len(table):
                checkpoints += 1
                links = link_all(table, reference, overlaps)
                for name in assess(table, reference, config, links=links)["by"]:
                    first_flag.setdefault(name, int(table.counts["n"][table.index[name]]))
    else:
        for columns in prefetch(batches):
            table.update(columns)
            if tally is not None:
                tally.add_columns(columns)
    if not len(table):
        raise DataError(f"{config.log}: no requests")
    links = link_all(table, reference, overlaps)
    if reference is None:
        reference, left_out = self_calibrate(table, links[0], target_fpr=config.target_fpr, fdr=config.fdr)
        cert = certification(reference, config.target_fpr, left_out=int(left_out.sum()))
        cert = _announce(cert, console, notes, self_reference=True)
    assert cert is not None
    result = assess(table, reference, config, self_reference=not config.reference, links=links)
    indicated: dict[str, str] = {}
    for account, (indicator, reason) in (tally.flagged() if tally else {}).items():
        result["by"].setdefault(account, f"indicator {indicator}")  # matches another provider's campaign
        indicated[account] = reason
    if checkpoints:  # flagged only at the end: first flagged there
        for name in result["by"]:
            first_flag.setdefault(name, int(table.counts["n"][table.index[name]]))
    account_rows, groups = _rows(table, reference, result, first_flag, indicated)
    if not cert.certifiable:
        _, at_floor = flags(table, reference, result, cert.smallest_certifiable_fpr, config.fdr)
        cert = at_smallest(cert, at_floor, [a["account"] for a in account_rows])
    from_tail = sum(a["flagged_by"] == "own traffic" and a["p_from_tail"] for a in account_rows)
    cert = replace(cert, flagged_from_tail=from_tail)
    labelled = (
        metrics(account_rows, read_labels(config.labels), ever_flagged=set(first_flag))
        if config.labels
        else None
    )
    seconds = round(time.monotonic() - started, 2)
    requests = int(table.counts["n"][: len(table)].sum())
    summary = DetectSummary(
        log=config.log,
        reference=config.reference or "the log itself",
        reference_units=reference.n,
        target_fpr=config.target_fpr,
        fdr=config.fdr,
        accounts=len(account_rows),
        requests=requests,
        groups=len(groups),
        flagged_accounts=sum(a["flagged"] for a in account_rows),
        flagged_groups=sum(g["flagged"] for g in groups),
        checkpoints=checkpoints,
        notes=notes,
        indicator_matches=len(indicated) if tally is not None else None,
        metrics=labelled,
        seconds=seconds,
        records_per_s=round(requests / max(seconds, 1e-9)),
        certification=cert,
        embedder=prompts.name if config.reference else "none",
    )
    _write(config.out, summary, account_rows, groups)
    if config.export_indicators is not None and config.indicator_key_file is not None:
        from distillab.detect.indicator_export import export_indicators, flagged_campaigns

        summary.exported_indicators = export_indicators(
            flagged_campaigns(config.out),
            config.log,
            read_key(config.indicator_key_file),
            config.export_indicators,
        )
    return summary


def _announce(
    cert: Certification, console: Console, notes: list[str], *, self_reference: bool
) -> Certification:
    """Say what the reference certifies, on the console before scoring and in the summary's notes."""
    text = message(cert, self_reference=self_reference)
    console.print(text, style=None if cert.certifiable else "bold yellow", highlight=False)
    notes.append(text)
    return cert


def _tally(config: DetectConfig) -> IndicatorTally | None:
    if config.indicators is None or config.indicator_key_file is None:
        return None
    index = IndicatorIndex.load(config.indicators, read_key(config.indicator_key_file))
    return IndicatorTally(index, config.indicator_min_requests)


def _rows(
    table: StatsTable,
    calibration: Calibration,
    result: dict[str, Any],
    first_flag: dict[str, int],
    indicated: dict[str, str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    units: Units = result["units"]
    scored, q, flagged, by = result["scored"], result["q"], result["flagged"], result["by"]
    p, links, ranks = result["p"], result["links"], result["ranks"]
    paraphrased = result["paraphrased"]
    account_rows: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for i, unit in enumerate(units.ids):
        row = units.features[i]
        reasons = calibration.reasons(row, scored, i)
        if unit in indicated and not units.is_group[i]:
            reasons.append(indicated[unit])
        entry = {
            "requests": units.requests[i],
            "score": round(float(scored.distance[i]), 4),
            "behaviour": list(FAMILIES)[int(scored.family[i])],
            "p_value": float(p[i]),
            "p_from_tail": bool(scored.from_tail[i]),
            "p_by_behaviour": {f: float(v) for f, v in zip(FAMILIES, scored.family_p[i])},
            "q_value": float(q[i]),
            "reasons": reasons,
            "features": {f: round(float(v), 4) for f, v in zip(FEATURES, row)},
            "requests_per_active_day": round(float(np.exp(units.volume[i])), 1),
        }
        if units.is_group[i]:
            test = ranks[i][0] if i in ranks else None
            alike = links.alike[i - len(table)]
            groups.append(
                {
                    "id": unit,
                    "members": units.members[i],
                    "flagged": bool(flagged[i]),
                    "linked_by": [alike if r == ALIKE and alike else r for r in units.linked_by.get(i, [])],
                    **entry,
                    "reasons": [
                        *([paraphrased[i].words()] if i in paraphrased else []),
                        *([test.words()] if test else []),
                        *reasons,
                    ],
                    "pooled_p_value": result["group_tests"][i].pooled,
                    "rank_test": asdict(test) if test else None,
                }
            )
        else:
            account_rows.append(
                {
                    "account": unit,
                    "flagged": unit in by,
                    "flagged_by": by.get(unit),
                    "flagged_after_requests": first_flag.get(unit) if unit in by else None,
                    **entry,
                }
            )
    account_rows.sort(key=lambda a: (a["p_value"], -a["score"]))
    groups.sort(key=lambda g: (g["p_value"], -g["score"]))
    return account_rows, groups


def _write(
    out: Path, summary: DetectSummary, account_rows: list[dict[str, Any]], groups: list[dict[str, Any]]
) -> None:
    from distillab.detect.report import render

    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "accounts.jsonl", "".join(json.dumps(a) + "\n" for a in account_rows))
    write_text(out / "campaigns.json", json.dumps(groups, indent=2) + "\n")
    write_text(out / "summary.json", json.dumps(summary.to_json(), indent=2) + "\n")
    write_text(out / "report.html", render(summary, account_rows, groups))


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


def metrics(
    accounts_: list[dict[str, Any]], labels: dict[str, str], *, ever_flagged: set[str] | None = None
) -> DetectMetrics:
    """Precision, recall, honest false-positive rate, campaigns detected, queries until flagged; with
    `ever_flagged` (accounts flagged at any checkpoint), the share of honest accounts ever flagged."""
    honest = [a for a in accounts_ if labels.get(a["account"], "benign") == "benign"]
    attackers = [a for a in accounts_ if labels.get(a["account"], "benign") != "benign"]
    flagged = [a for a in accounts_ if a["flagged"]]
    true_flags = [a for a in flagged if labels.get(a["account"], "benign") != "benign"]
    campaigns: dict[str, list[dict[str, Any]]] = {}
    for a in attackers:
        campaigns.setdefault(labels[a["account"]], []).append(a)
    until = [a["flagged_after_requests"] for a in true_flags if a["flagged_after_requests"] is not None]

    def median(values: list[int]) -> float | None:
        return statistics.median(values) if values else None

    return DetectMetrics(
        honest_accounts=len(honest),
        campaign_accounts=len(attackers),
        flagged_accounts=len(flagged),
        precision=len(true_flags) / len(flagged) if flagged else None,
        recall=len(true_flags) / len(attackers) if attackers else None,
        honest_false_positive_rate=sum(a["flagged"] for a in honest) / len(honest) if honest else None,
        honest_ever_flagged_rate=(
            sum(a["account"] in ever_flagged or a["flagged"] for a in honest) / len(honest)
            if honest and ever_flagged is not None
            else None
        ),
        campaigns={
            c: CampaignMetrics(
                accounts=len(m),
                flagged_accounts=sum(a["flagged"] for a in m),
                detected=any(a["flagged"] for a in m),
                median_queries_until_flagged=median(
                    [a["flagged_after_requests"] for a in m if a["flagged"] and a["flagged_after_requests"]]
                ),
            )
            for c, m in sorted(campaigns.items())
        },
        campaigns_detected=sum(any(a["flagged"] for a in m) for m in campaigns.values()),
        median_queries_until_flagged=median(until),
        unlabelled_accounts=sum(a["account"] not in labels for a in accounts_),
    )
