"""The generator's working types: an account with its identity, one request (`Call`) before it becomes a
log record, and the shared world (time window, networks, id registry, limits, the new model's release)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .identity import Networks, Registry
from .prompts import reply
from .timing import Window, human, log_normal

MODEL = "atlas-1"
SMALL_MODEL = "atlas-1-mini"
NEW_MODEL = "atlas-2"


@dataclass
class Account:
    name: str
    kind: str
    """The persona (honest) or campaign kind."""
    label: str
    """'benign' or the campaign id."""
    tz: float
    org: str | None
    payment_id: str | None
    keys: list[str]
    addresses: list[str]
    user_agents: list[str]
    rate_limit: float
    """Requests per minute the gateway allows this account (its plan's tier)."""
    model: str = MODEL
    adopt_at: float | None = None
    """From this time, `new_share` of its requests go to the new model."""
    new_share: float = 0.0


@dataclass(slots=True)
class Call:
    """One request as the persona sends it; the generator adds identity, model, status and latency."""

    ts: float
    messages: list[dict[str, str]] | None
    params: dict[str, Any]
    completion_tokens: int
    prompt: str | None = None
    model: str | None = None
    """Pinned by the persona (a benchmark run against one model); None: the account's choice."""
    ip: str | None = None
    """Pinned by the persona (a proxy exit per request); None: one of the account's addresses."""


@dataclass
class World:
    window: Window
    nets: Networks
    ids: Registry
    rate_limit: float
    release_at: float | None
    """When the new model appears (None: not within the window)."""
    bench_seed: int = 7
    """Public benchmarks are the same in every log."""


def user(text: str, system: str | None = None) -> list[dict[str, str]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": text}]


def conversation(
    rng: random.Random,
    start: float,
    turns: list[str],
    topic: str,
    params: dict[str, Any],
    *,
    median_gap: float,
    completion: float,
    system: str | None = None,
) -> list[Call]:
    """One conversation: each turn is a request carrying the whole history so far."""
    history = user(turns[0], system)
    calls = []
    for i, t in enumerate(human(rng, start, len(turns), median_gap)):
        if i:
            history = [
                *history,
                {"role": "assistant", "content": reply(rng, topic)},
                {"role": "user", "content": turns[i]},
            ]
        cap = int(params.get("max_tokens", 4096))
        calls.append(Call(t, list(history), params, log_normal(rng, completion, 0.7, high=cap)))
    return calls
