"""`simulate(config)`: build the honest personas and the campaigns, then stream their requests, in time
order, as request-log records to a file, and the labels to another.

    from distillab.detect.simulate import SimulateConfig, simulate
    result = simulate(SimulateConfig(out=Path("traffic.parquet"), accounts=500, days=7, attacker_share=0.05))

Every account's requests are drawn from its own random streams, so the same config gives byte-identical
files (on the same Python version: prompts quote the standard library's docstrings).
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distillab.detect.simulate import timing as tm
from distillab.detect.simulate.actor import Actor
from distillab.detect.simulate.campaigns import build_campaigns
from distillab.detect.simulate.config import SimulateConfig
from distillab.detect.simulate.files import write_labels, write_records
from distillab.detect.simulate.personas import build_honest
from distillab.detect.simulate.world import World
from distillab.errors import ConfigError

SLICE = 65_536
TOKENS_PER_CHAR = 1.3 / 6
OVERLOAD_429 = 0.001
"""Share of requests refused with 429 because the service was busy, whoever sent them."""


class Traffic:
    """The simulated accounts and their request times; `records()` writes the requests themselves."""

    def __init__(self, config: SimulateConfig):
        self.config = config
        self.world = World(config)
        honest = build_honest(self.world)
        self.campaigns = build_campaigns(self.world, sum(a.times.size for a in honest))
        self.actors: list[Actor] = honest + [a for c in self.campaigns for a in c.actors]
        self.seen: Counter[str] = Counter()
        """Requests per account written so far by `records()`."""

    def records(self) -> Iterator[dict[str, Any]]:
        """Every request as a request-log record, sorted by `ts` (the first `max_requests` only, if set)."""
        actors = self.actors
        times = np.concatenate([a.times for a in actors] + [np.empty(0)])
        who = np.repeat(np.arange(len(actors)), [a.times.size for a in actors])
        refused = np.concatenate(
            [tm.over_limit(a.times, a.account.rpm_limit) for a in actors] + [np.empty(0, bool)]
        )
        refused |= self.world.numpy("overload").random(times.size) < OVERLOAD_429
        order = np.argsort(times, kind="stable")[: self.config.max_requests]
        for begin in range(0, order.size, SLICE):  # Python lists a slice at a time: flat memory
            part = order[begin : begin + SLICE]
            stamps = np.round(self.world.start + times[part], 3).tolist()
            for i, ts, rel, no in zip(
                who[part].tolist(), stamps, times[part].tolist(), refused[part].tolist()
            ):
                actor = actors[i]
                self.seen[actor.account.name] += 1
                yield record(actor, ts, rel, 429 if no else 200)

    def labels(self) -> list[dict[str, str]]:
        """account, label, kind for every account `records()` has yielded, sorted by account."""
        rows = [
            {"account": a.account.name, "label": a.account.label, "kind": a.account.kind}
            for a in self.actors
            if a.account.name in self.seen
        ]
        return sorted(rows, key=lambda row: row["account"])


def record(actor: Actor, ts: float, rel: float, status: int) -> dict[str, Any]:
    """The log record of `actor`'s request at `rel` seconds into the period (`ts` epoch seconds).

    Tokens are about 1.3 per word, a word taken as 6 characters (counting words would be slower).
    """
    account, r = actor.account, actor.r
    req = actor.request(rel, status == 200)
    params = dict(req.params)
    if req.messages is not None:
        prompt_tokens = int(sum([len(m["content"]) + 12 for m in req.messages]) * TOKENS_PER_CHAR) + 1
    else:
        prompt_tokens = int(len(req.prompt or "") * TOKENS_PER_CHAR) + 1
    if status == 200:
        one = int(len(req.reply) * TOKENS_PER_CHAR) + 1
        cap = params.get("max_tokens")
        if cap is not None and one > cap:
            one = cap
        n = params.get("n", 1)
        completion = one if n == 1 else sum(int(one * (0.7 + 0.6 * r.random())) + 1 for _ in range(n))
        if cap is not None and n > 1:
            completion = min(completion, cap * n)
        latency = round(
            (150.0 + prompt_tokens * 0.08 + one * account.ms_per_token) * (0.75 + 0.5 * r.random()), 1
        )
        response: str | None = req.reply
    else:
        completion, latency, response = 0, round(2.0 + 13.0 * r.random(), 1), None
    return {
        "ts": ts,
        "account": account.name,
        "key_id": account.key(r),
        "ip": account.ip(r, int(rel // tm.DAY)),
        "user_agent": account.user_agent(r),
        "org": account.org,
        "payment_id": account.payment_id,
        "endpoint": req.endpoint,
        "model": req.model,
        "messages": req.messages,
        "prompt": req.prompt,
        "params": params,
        "response": response,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "status": status,
        "latency_ms": latency,
    }


@dataclass
class SimulationResult:
    out: Path | None
    labels: Path
    records: int
    accounts: int
    campaign_accounts: int
    campaign_records: int
    by_kind: dict[str, int] = field(default_factory=dict)
    """Requests per persona or strategy."""
    seconds: float = 0.0

    @property
    def attacker_share(self) -> float:
        return self.campaign_records / self.records if self.records else 0.0


def summarise(traffic: Traffic, out: Path | None, labels: Path, seconds: float) -> SimulationResult:
    rows = traffic.labels()
    by_kind: Counter[str] = Counter()
    for row in rows:
        by_kind[row["kind"]] += traffic.seen[row["account"]]
    campaign = [row["account"] for row in rows if row["label"] != "benign"]
    return SimulationResult(
        out,
        labels,
        sum(traffic.seen.values()),
        len(rows),
        len(campaign),
        sum(traffic.seen[a] for a in campaign),
        dict(sorted(by_kind.items())),
        seconds,
    )


@contextmanager
def _rare_gc() -> Iterator[None]:
    """Run the cyclic garbage collector less often while records are made: they are short-lived containers
    without cycles, by the hundred thousand, and the default (every 700 allocations) costs ~8% of the time."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 100_000), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def simulate(config: SimulateConfig) -> SimulationResult:
    """Write `config.out` (the request log) and the labels file; return what was written."""
    started = time.perf_counter()
    if config.out is None:
        raise ConfigError("out: required for simulate() (drive() sends the traffic to a gateway)")
    traffic = Traffic(config)
    with _rare_gc():
        write_records(traffic.records(), config.out)
    labels = config.labels_path()
    write_labels(traffic.labels(), labels)
    return summarise(traffic, config.out, labels, time.perf_counter() - started)
