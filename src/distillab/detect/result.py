"""What `run_detect` returns: the summary as typed fields. ``to_json()`` is summary.json's content (same keys
as ever); ``from_json`` reads a summary.json back (the demo's cached detection runs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class CampaignMetrics:
    """One labelled campaign: its accounts, how many were flagged, and when."""

    accounts: int
    flagged_accounts: int
    detected: bool
    median_queries_until_flagged: float | None


@dataclass
class DetectMetrics:
    """The detector against the labels (`--labels`)."""

    honest_accounts: int
    campaign_accounts: int
    flagged_accounts: int
    precision: float | None
    recall: float | None
    honest_false_positive_rate: float | None
    honest_ever_flagged_rate: float | None
    """Honest accounts flagged at any checkpoint (None without checkpoints)."""
    campaigns: dict[str, CampaignMetrics]
    campaigns_detected: int
    median_queries_until_flagged: float | None
    unlabelled_accounts: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectMetrics:
        campaigns = {name: CampaignMetrics(**c) for name, c in data["campaigns"].items()}
        return cls(**{**data, "campaigns": campaigns})


@dataclass
class ExportedIndicators:
    """What `export_indicators` wrote: campaigns, templates kept, and templates dropped as also honest."""

    campaigns: int
    templates: int
    templates_dropped_as_honest: int
    out: str


@dataclass
class Certification:
    """What the reference can certify by ranks alone (no fitted tail), said at the start of a run."""

    reference_units: int
    """Honest units the p-values are ranked among (the log's own kept accounts when self-calibrated)."""
    behaviours: int
    """Behaviour families, each with its own p-value (Bonferroni over them)."""
    smallest_certifiable_fpr: float
    """behaviours / (reference_units + 1): the smallest false-positive rate ranks alone can certify."""
    target_fpr: float
    certifiable: bool
    """Whether the target is at or above the smallest certifiable rate."""
    reference_units_needed: int
    """Honest reference units the target needs by ranks alone."""
    tail: bool
    """Whether p-values go below the ranks on a fitted tail (not when self-calibrated)."""
    flagged_at_smallest: int | None = None
    """Accounts flagged at the smallest certifiable rate (None: the target is certifiable)."""
    accounts_at_smallest: list[str] | None = None
    """The first 50 of them, most unusual first."""
    flagged_from_tail: int = 0
    """Accounts flagged at the target on their own traffic whose p-value comes from the fitted tail."""
    left_out: int = 0
    """Self-calibrated: accounts left out of the honest estimate as dense unusual clusters."""


@dataclass
class DetectSummary:
    log: str
    reference: str
    """The reference log, or "the log itself"."""
    reference_units: int
    target_fpr: float
    fdr: float
    accounts: int
    requests: int
    groups: int
    flagged_accounts: int
    flagged_groups: int
    checkpoints: int
    notes: list[str]
    indicator_matches: int | None
    """Accounts matching an imported indicator; None (left out of the JSON) without `--indicators`."""
    metrics: DetectMetrics | None
    """None (left out of the JSON) without `--labels`."""
    seconds: float
    records_per_s: int
    certification: Certification | None = None
    """What the reference can certify; None only in summaries written before it was reported."""
    embedder: str = "lexical"
    """Which prompt embeddings behavioural linking used: "minilm" or "lexical" (summaries written
    before there was a choice were lexical)."""
    exported_indicators: ExportedIndicators | None = None
    """With `--export-indicators`; exported after summary.json is written, so never in that file."""

    def to_json(self) -> dict[str, Any]:
        """summary.json's content: the optional parts only when present."""
        data = asdict(self)
        for optional in ("indicator_matches", "metrics", "certification", "exported_indicators"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectSummary:
        metrics, exported = data.get("metrics"), data.get("exported_indicators")
        certification = data.get("certification")
        return cls(
            **{
                **data,
                "indicator_matches": data.get("indicator_matches"),
                "metrics": DetectMetrics.from_json(metrics) if metrics is not None else None,
                "certification": Certification(**certification) if certification is not None else None,
                "exported_indicators": ExportedIndicators(**exported) if exported is not None else None,
            }
        )
