"""`SimulateConfig`: every option of `distillab simulate`, documented and validated in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import documented as _f

PERSONAS = ("chat", "coding", "doc-qa", "power-user", "support-app", "benchmark", "labelling")
"""Honest personas, the `kind` of a benign account in the labels file."""
CAMPAIGNS = (
    "heavy",
    "many-accounts",
    "low-and-slow",
    "templated",
    "paraphrase",
    "chain-of-thought",
    "logprob-harvest",
    "shared-proxy",
)
"""Distillation strategies, the `kind` of a campaign account; each runs as one campaign."""
RECORD_SUFFIXES = (".jsonl", ".parquet")
LABEL_SUFFIXES = (".jsonl", ".csv")


@dataclass
class SimulateConfig:
    """How much traffic of which kinds to simulate, and where it goes."""

    out: Path | None = _f(
        None,
        "Request-log file to write: .jsonl or .parquet (with --gateway: optional, "
        "the simulated records that were sent).",
    )
    labels: Path | None = _f(
        None,
        "Labels file (.jsonl or .csv): account -> label (benign or a campaign id) "
        "and kind (default: OUT's name with .labels.jsonl).",
    )
    seed: int = _f(0, "Seed: the same options give byte-identical files.")
    accounts: int = _f(300, "Honest accounts (campaign accounts come on top).")
    days: float = _f(3.0, "Days of traffic, starting at a fixed date derived from the seed.")
    attacker_share: float = _f(0.05, "Fraction of all requests that come from campaigns (0 <= share < 1).")
    campaigns: tuple[str, ...] = _f(
        ("all",), "Campaign strategies, comma-separated, or 'all': " + ", ".join(CAMPAIGNS) + "."
    )
    rate_limit_rpm: int = _f(
        60,
        "Requests per minute per standard account: campaign accounts stay under it; "
        "honest bursts above it get 429.",
    )
    max_requests: int | None = _f(None, "Stop after this many requests (the first ones in time).")
    gateway: str | None = _f(
        None,
        "Send the traffic to a running `distillab serve --db` gateway at this URL "
        "(http://host:port) instead of only writing a file.",
    )
    speedup: float | None = _f(
        None, "With --gateway: simulated seconds per real second (default: as fast as the gateway answers)."
    )
    admin_token_env: str = _f(
        "DISTILLAB_ADMIN_TOKEN",
        "With --gateway: environment variable holding the gateway's admin token (keys are made per account).",
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out) if self.out is not None else None
        self.labels = Path(self.labels) if self.labels is not None else None
        # Each item may itself be a comma-separated list (`--campaigns a,b`, repeatable).
        items = (self.campaigns,) if isinstance(self.campaigns, str) else self.campaigns
        names = tuple(c.strip() for item in items for c in item.split(",") if c.strip())
        self.campaigns = CAMPAIGNS if names == ("all",) else names
        problems = []
        if self.out is None and self.gateway is None:
            problems.append("out: required (a .jsonl or .parquet file), unless --gateway is given")
        if self.out is not None and self.out.suffix not in RECORD_SUFFIXES:
            problems.append(f"out: must end in {' or '.join(RECORD_SUFFIXES)}, got {str(self.out)!r}")
        if self.out is not None and not self.out.parent.is_dir():
            problems.append(f"out: directory {self.out.parent} does not exist")
        if self.labels is not None and self.labels.suffix not in LABEL_SUFFIXES:
            problems.append(f"labels: must end in {' or '.join(LABEL_SUFFIXES)}, got {str(self.labels)!r}")
        if self.labels is not None and not self.labels.parent.is_dir():
            problems.append(f"labels: directory {self.labels.parent} does not exist")
        if self.gateway is not None and self.out is None and self.labels is None:
            problems.append("labels: required with --gateway when there is no --out")
        if self.gateway is not None and not self.gateway.startswith(("http://", "https://")):
            problems.append(f"gateway: must be an http:// or https:// URL, got {self.gateway!r}")
        if self.accounts < 1:
            problems.append(f"accounts: must be >= 1, got {self.accounts}")
        if not 0 < self.days <= 400:
            problems.append(f"days: must be in (0, 400], got {self.days}")
        if not 0 <= self.attacker_share < 1:
            problems.append(f"attacker_share: must be in [0, 1), got {self.attacker_share}")
        unknown = [c for c in self.campaigns if c not in CAMPAIGNS]
        if unknown:
            problems.append(
                f"campaigns: unknown {', '.join(map(repr, unknown))} (known: {', '.join(CAMPAIGNS)})"
            )
        if len(set(self.campaigns)) != len(self.campaigns):
            problems.append("campaigns: a strategy is named twice")
        if self.attacker_share > 0 and not self.campaigns:
            problems.append("campaigns: none chosen, but attacker_share > 0")
        if self.rate_limit_rpm < 1:
            problems.append(f"rate_limit_rpm: must be >= 1, got {self.rate_limit_rpm}")
        if self.max_requests is not None and self.max_requests < 1:
            problems.append(f"max_requests: must be >= 1, got {self.max_requests}")
        if self.speedup is not None and not self.speedup > 0:
            problems.append(f"speedup: must be > 0, got {self.speedup}")
        if problems:
            raise ConfigError(problems)

    def labels_path(self) -> Path:
        """Where the labels go: `labels`, else next to `out` as `<stem>.labels.jsonl`."""
        if self.labels is not None:
            return self.labels
        assert self.out is not None  # __post_init__ demands one of them
        return self.out.with_name(self.out.stem + ".labels.jsonl")
