"""A week of request-log traffic for N accounts from one seed: honest personas and distillation
campaigns, as DESIGN.md log records, with the answer key kept apart (`Traffic.labels`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from distillab.errors import ConfigError

from .accounts import campaign_accounts, honest_accounts
from .campaigns import CAMPAIGNS
from .core import NEW_MODEL, Account, Call, World
from .honest import PERSONAS
from .identity import Networks, Registry
from .timing import DAY, Window, over_limit


@dataclass(frozen=True)
class TrafficConfig:
    accounts: int = 600
    """Accounts in the log, honest and campaign (campaigns take about 8%)."""
    seed: int = 0
    days: int = 7
    start: str = "2026-03-02T00:00:00+00:00"
    """First moment of the log: a Monday 00:00 UTC (weekdays and weekends follow from it)."""
    rate_limit_rpm: float = 20.0
    """The base plan's per-account limit; service personas have 10x. Requests over it get 429."""
    proxy_networks: int = 8
    """/24 networks of the commercial proxy pool (hydra accounts and some honest VPN users)."""
    release_day: float = 3.5
    """When the new model appears, in days from the start (past the end: no release)."""

    def __post_init__(self) -> None:
        problems = []
        if self.accounts < 50:
            problems.append(
                f"accounts must be >= 50 (every persona and campaign needs some), got {self.accounts}"
            )
        if not 1 <= self.days <= 28:
            problems.append(f"days must be 1..28, got {self.days}")
        if self.rate_limit_rpm <= 0:
            problems.append(f"rate_limit_rpm must be > 0, got {self.rate_limit_rpm}")
        if self.proxy_networks < 1:
            problems.append(f"proxy_networks must be >= 1, got {self.proxy_networks}")
        if self.release_day < 0:
            problems.append(f"release_day must be >= 0, got {self.release_day}")
        try:
            if datetime.fromisoformat(self.start).tzinfo is None:
                problems.append(f"start must carry a UTC offset, got {self.start!r}")
        except ValueError:
            problems.append(f"start must be an ISO 8601 time, got {self.start!r}")
        if problems:
            raise ConfigError("TrafficConfig: " + "; ".join(problems))


@dataclass
class Traffic:
    records: list[dict[str, Any]]
    """DESIGN.md log records in time order, `id` 1..n."""
    accounts: list[Account]
    start: float
    """The window's first moment (epoch seconds)."""
    release_at: float | None
    """When the new model appeared (None: not within the window)."""
    proxy_networks: list[str]
    """The commercial proxy pool's /24 networks."""

    def labels(self) -> list[dict[str, str]]:
        """account -> label ('benign' or the campaign id) and kind (persona or campaign kind)."""
        return [{"account": a.name, "label": a.label, "kind": a.kind} for a in self.accounts]

    def honest(self) -> Traffic:
        """The same log without the campaigns' accounts (a clean reference period)."""
        keep = {a.name for a in self.accounts if a.label == "benign"}
        records = [dict(r) for r in self.records if r["account"] in keep]
        for i, r in enumerate(records, start=1):
            r["id"] = i
        accounts = [a for a in self.accounts if a.name in keep]
        return Traffic(records, accounts, self.start, self.release_at, self.proxy_networks)


def _apportion(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Largest-remainder split of `total` by `shares`, at least one each."""
    norm = sum(shares.values())
    raw = {k: total * v / norm for k, v in shares.items()}
    counts = {k: max(1, int(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - int(raw[k]), reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def generate(config: TrafficConfig) -> Traffic:
    rng = random.Random(f"traffic:{config.seed}")
    window = Window(datetime.fromisoformat(config.start).timestamp(), config.days)
    release = window.start + config.release_day * DAY
    world = World(
        window,
        Networks.build(rng, config.accounts, config.proxy_networks),
        Registry(rng),
        config.rate_limit_rpm,
        release if release < window.end else None,
    )
    campaign_sizes = {kind: size(config.accounts) for kind, (size, _) in CAMPAIGNS.items()}
    personas = _apportion(
        config.accounts - sum(campaign_sizes.values()), {k: s for k, (s, _) in PERSONAS.items()}
    )
    accounts = honest_accounts(rng, world, personas)
    calls: dict[str, list[Call]] = {}
    for acct in accounts:
        calls[acct.name] = PERSONAS[acct.kind][1](random.Random(f"{config.seed}:{acct.name}"), world, acct)
    for kind, count in campaign_sizes.items():
        members = campaign_accounts(rng, world, kind, count)
        calls.update(CAMPAIGNS[kind][1](random.Random(f"{config.seed}:{kind}"), world, members))
        accounts += members
    rng.shuffle(accounts)
    records = []
    for acct in accounts:
        records += _records(
            random.Random(f"{config.seed}:records:{acct.name}"), world, acct, calls[acct.name]
        )
    records.sort(key=lambda r: (r["ts"], r["account"]))
    for i, r in enumerate(records, start=1):
        r["id"] = i
    return Traffic(records, accounts, window.start, world.release_at, [f"{p}.0/24" for p in world.nets.proxy])


def _records(rng: random.Random, world: World, acct: Account, calls: list[Call]) -> list[dict[str, Any]]:
    """One account's calls as log records: inside the window, in time order, identity filled in, 429
    where the account went over its per-minute limit."""
    calls = sorted((c for c in calls if world.window.start <= c.ts < world.window.end), key=lambda c: c.ts)
    limited = over_limit(np.array([c.ts for c in calls]), acct.rate_limit)
    out = []
    for call, rejected in zip(calls, limited):
        model = call.model or acct.model
        if call.model is None and acct.adopt_at is not None and call.ts >= acct.adopt_at:
            model = NEW_MODEL if rng.random() < acct.new_share else model
        status = 429 if rejected else (rng.choice([500, 503]) if rng.random() < 0.002 else 200)
        text = call.prompt if call.messages is None else " ".join(m["content"] for m in call.messages)
        completion = call.completion_tokens if status == 200 else 0
        out.append(
            {
                "id": 0,
                "ts": round(call.ts, 3),
                "account": acct.name,
                "key_id": rng.choice(acct.keys),
                "ip": call.ip or rng.choice(acct.addresses),
                "user_agent": rng.choice(acct.user_agents),
                "org": acct.org,
                "payment_id": acct.payment_id,
                "endpoint": "/v1/chat/completions" if call.messages is not None else "/v1/completions",
                "model": model,
                "messages": call.messages,
                "prompt": call.prompt,
                "params": call.params,
                "response": None,
                "prompt_tokens": len(text or "") // 4 + 4 * len(call.messages or []),
                "completion_tokens": completion,
                "status": status,
                "latency_ms": round(
                    rng.uniform(4, 20) if status == 429 else 180 + 14 * completion * rng.uniform(0.8, 1.3), 1
                ),
            }
        )
    return out
