"""`export_indicators`: turn flagged campaigns into a shareable indicator file.

    from distillab.detect.indicator_export import export_indicators, flagged_campaigns, labelled_campaigns
    from distillab.detect.indicators import read_key
    export_indicators(flagged_campaigns("runs/detect"), "requests.parquet", read_key("sharing.key"),
                      "campaigns.indicators.json")
    export_indicators(labelled_campaigns("confirmed.labels.jsonl"), ...)    # campaigns an analyst confirmed

A campaign is a linked group that `distillab detect` flagged (its members flagged with it), an account
it flagged on its own traffic, or the accounts sharing one campaign label in a labels file (the
`--labels` format: account, label; "benign" rows are ignored; such campaigns have no behaviour
profile). The log is read once more: each campaign's prompts (the first `MAX_PROMPTS`) are grouped into
templates (greedy MinHash LSH clustering at the Jaccard threshold: a prompt joins the first template
it matches, else starts one); a template needs `MIN_SUPPORT` prompts. Templates that prompts of two or
more unflagged accounts also match (checked on up to `HONEST_PER_ACCOUNT` prompts of each, `HONEST_MAX`
in all) are dropped: they are what honest users send too (a public task, a common phrasing), and
another provider would pre-flag its honest users with them. Networks and user agents are the
campaign's most used ones, as keyed hashes. No prompt, account name, address or agent string is
written (see `distillab.detect.indicators` for why every hash is keyed).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distillab.atomic import write_text
from distillab.detect.indicators import THRESHOLD, encode_signature, header, keyed
from distillab.detect.logs import read_batches
from distillab.detect.result import ExportedIndicators
from distillab.detect.templates import Signer, TemplateIndex, similarity
from distillab.errors import DataError

MAX_PROMPTS = 20_000
"""Prompts of one campaign read for its templates."""
MIN_SUPPORT = 3
MAX_TEMPLATES = 100
MAX_NETWORKS, MAX_AGENTS = 64, 16
HONEST_PER_ACCOUNT, HONEST_MAX = 200, 100_000


@dataclass
class Campaign:
    id: str
    kind: str
    """"group" (a linked group), "account" (flagged on its own traffic) or "labelled"."""
    members: set[str]
    requests: int
    profile: dict[str, float]
    reasons: list[str]
    prompts: list[str] = field(default_factory=list)
    networks: Counter[str] = field(default_factory=Counter)
    agents: Counter[str] = field(default_factory=Counter)


def flagged_campaigns(detect_out: str | Path) -> list[Campaign]:
    """The flagged campaigns in a `distillab detect` output directory."""
    detect_out = Path(detect_out)
    try:
        accounts = [
            json.loads(line) for line in (detect_out / "accounts.jsonl").read_text().splitlines() if line
        ]
        groups = json.loads((detect_out / "campaigns.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{detect_out}: not a `distillab detect` output directory ({exc})") from None
    flagged = {a["account"]: a for a in accounts if a.get("flagged")}
    campaigns, taken = [], set()
    for g in groups:
        members = {m for m in g["members"] if m in flagged}
        if g.get("flagged") and members:
            campaigns.append(
                Campaign(g["id"], "group", members, int(g["requests"]), _profile(g), g["reasons"])
            )
            taken |= members
    for name, a in flagged.items():
        if name not in taken:
            campaigns.append(Campaign(name, "account", {name}, int(a["requests"]), _profile(a), a["reasons"]))
    return campaigns


def labelled_campaigns(labels: str | Path) -> list[Campaign]:
    """One campaign per non-benign label in a labels file (.jsonl or .csv: account, label)."""
    from distillab.detect.run import read_labels

    members: dict[str, set[str]] = {}
    for account, label in read_labels(Path(labels)).items():
        if label != "benign":
            members.setdefault(label, set()).add(account)
    return [Campaign(label, "labelled", names, 0, {}, []) for label, names in sorted(members.items())]


def _profile(unit: dict[str, Any]) -> dict[str, float]:
    profile = {name: round(float(value), 2) for name, value in unit.get("features", {}).items()}
    profile["requests_per_active_day"] = float(f"{unit.get('requests_per_active_day', 0.0):.2g}")
    return profile


def export_indicators(
    campaigns: list[Campaign], log: str | Path, key: bytes, out: str | Path, *, threshold: float = THRESHOLD
) -> ExportedIndicators:
    """Write the indicator file for `campaigns`, reading their prompts, networks and agents from `log`;
    returns a summary: campaigns, templates kept and dropped as also honest."""
    of = {m: c for c in campaigns for m in c.members}
    honest: list[tuple[str, str]] = []
    per_account: Counter[str] = Counter()
    for columns in read_batches(log):
        for name, text, prefix, agent in zip(
            columns.account.to_pylist(),
            columns.text.to_pylist(),
            columns.prefix.to_pylist(),
            columns.user_agent.to_pylist(),
        ):
            campaign = of.get(name)
            if campaign is not None:
                if campaign.kind == "labelled":
                    campaign.requests += 1
                if len(campaign.prompts) < MAX_PROMPTS:
                    campaign.prompts.append(text)
                if prefix:
                    campaign.networks[prefix] += 1
                if agent:
                    campaign.agents[agent] += 1
            elif per_account[name] < HONEST_PER_ACCOUNT and len(honest) < HONEST_MAX:  # prompts of the others
                per_account[name] += 1
                honest.append((name, text))
    signer = Signer(key)
    honest_signatures = [(name, signer.signature(text)) for name, text in honest]
    indicators: list[dict[str, Any]] = []
    dropped = 0
    for campaign in campaigns:
        templates, shared = _templates(signer, campaign.prompts, honest_signatures, threshold)
        dropped += shared
        body = {
            "kind": campaign.kind,
            "accounts": len(campaign.members),
            "requests": campaign.requests,
            "templates": templates,
            "networks": sorted(
                keyed(key, "network", p) for p, _ in campaign.networks.most_common(MAX_NETWORKS)
            ),
            "user_agents": sorted(
                keyed(key, "user_agent", a) for a, _ in campaign.agents.most_common(MAX_AGENTS)
            ),
            "profile": campaign.profile,
            "reasons": campaign.reasons,
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
        indicators.append({"id": f"ind-{digest}", **body})
    write_text(Path(out), json.dumps({**header(key, threshold), "indicators": indicators}, indent=1) + "\n")
    return ExportedIndicators(
        campaigns=len(indicators),
        templates=sum(len(i["templates"]) for i in indicators),
        templates_dropped_as_honest=dropped,
        out=str(out),
    )


def _templates(
    signer: Signer, prompts: list[str], honest: list[tuple[str, np.ndarray]], threshold: float
) -> tuple[list[dict[str, Any]], int]:
    """The campaign's templates (signature and share of its prompts), and how many were dropped as honest."""
    index = TemplateIndex(threshold)
    support: list[int] = []
    for text in prompts:
        signature = signer.signature(text)
        home = index.best(signature)
        if home is None:
            index.add(signature)
            support.append(1)
        else:
            support[home[0]] += 1
    kept = [int(t) for t in np.argsort(support, kind="stable")[::-1] if support[t] >= MIN_SUPPORT]
    seen_by: dict[int, set[str]] = {t: set() for t in kept}
    for name, signature in honest:
        for t in index.candidates(signature):
            if t in seen_by and similarity(signature, index.signatures[t]) >= threshold:
                seen_by[t].add(name)
    specific = [t for t in kept if len(seen_by[t]) < 2]
    total = max(len(prompts), 1)
    return (
        [
            {"signature": encode_signature(index.signatures[t]), "share": round(support[t] / total, 4)}
            for t in specific[:MAX_TEMPLATES]
        ],
        len(kept) - len(specific),
    )
