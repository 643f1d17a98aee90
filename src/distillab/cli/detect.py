"""`distillab detect`: score accounts and linked groups in a request log for distillation campaigns."""

from __future__ import annotations

from distillab.cli.from_config import from_config
from distillab.detect.config import DetectConfig

HELP = """Find distillation campaigns in a request log: per-account scores, linked groups, reasons.

Reads the request-log format (DESIGN.md) from JSONL, Parquet, or the gateway's store. Each account
and each group of linked accounts (shared payment ids, orgs, networks, prompt templates, timing) is
scored against honest reference traffic with calibrated p-values; flags hold the false-positive rate
on honest accounts at --target-fpr and the false-discovery rate at --fdr. With --labels it reports
precision, recall, the honest false-positive rate and the median queries until flagged. Writes
accounts.jsonl, campaigns.json, summary.json and report.html to OUT.

Examples:

\b
  distillab detect --log requests.jsonl --out runs/detect
  distillab detect --log gateway.db --reference last-month.parquet --out runs/detect --target-fpr 0.001
  distillab simulate --out traffic.jsonl && \\
      distillab detect --log traffic.jsonl --labels traffic.labels.jsonl --out runs/detect
  distillab detect --log gateway.db --reference honest.parquet --out runs/detect \\
      --export-indicators campaigns.indicators.json --indicator-key-file sharing.key
  distillab detect --log requests.parquet --reference honest.parquet --out runs/detect \\
      --indicators partner.indicators.json --indicator-key-file sharing.key

See docs/detect.md.
"""


@from_config(DetectConfig, required=("log", "out"))
def detect(config: DetectConfig) -> None:
    from distillab.detect.run import run_detect

    summary = run_detect(config)
    print(
        f"{summary.requests:,} requests, {summary.accounts:,} accounts, {summary.groups} linked groups "
        f"in {summary.seconds:.1f}s; flagged {summary.flagged_accounts} accounts, "
        f"{summary.flagged_groups} groups"
    )
    metrics = summary.metrics
    if metrics:

        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{100 * v:.2f}%"

        print(
            f"precision {pct(metrics.precision)}, recall {pct(metrics.recall)}, honest false-positive "
            f"rate {pct(metrics.honest_false_positive_rate)}, campaigns detected "
            f"{metrics.campaigns_detected}/{len(metrics.campaigns)}"
        )
        if metrics.median_queries_until_flagged is not None:
            print(f"median queries until flagged {metrics.median_queries_until_flagged:.0f}")
    if summary.indicator_matches is not None:
        print(f"{summary.indicator_matches} accounts match an imported indicator")
    exported = summary.exported_indicators
    if exported:
        print(
            f"indicators: {exported.campaigns} campaigns, {exported.templates} templates "
            f"({exported.templates_dropped_as_honest} dropped as also honest) -> {exported.out}"
        )
    cert = summary.certification
    if cert is not None and not cert.certifiable:
        print(
            f"by ranks alone (at {cert.smallest_certifiable_fpr:.2g}, the smallest rate "
            f"{cert.reference_units:,} honest units certify): {cert.flagged_at_smallest} accounts "
            "would be flagged"
            + (
                f"; {cert.flagged_from_tail} of the flags at the target rest on the fitted tail"
                if cert.tail
                else ""
            )
        )
    for note in summary.notes:
        print(f"note: {note}")
    print(f"report: {config.out / 'report.html'}")
