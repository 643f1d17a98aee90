"""Distillation campaigns: accounts that harvest a model's answers to train another, each with a strategy.

Every campaign stays under the per-account rate limit (consecutive requests of one account are at
least 60 / rate_limit_rpm seconds apart), with jittered, bursty timing; which accounts share user
agents, address ranges, org and payment metadata differs by campaign. `build_campaigns(world, honest)`
sizes them so that they send `attacker_share` of all requests.

    heavy             one account, round the clock, broad coverage of every domain
    many-accounts     20-200 accounts, one shared work queue, active in the same windows
    low-and-slow      a few human-looking accounts, a steady trickle every day
    templated         a few templates x slot fillers, enumerated systematically
    paraphrase        one question set reworded again and again
    chain-of-thought  every prompt asks for step-by-step reasoning (long replies)
    logprob-harvest   logprobs with top_logprobs=20, temperature 1, n > 1, long max_tokens;
                      raw completions too
    shared-proxy      behind a shared corporate proxy, same address range and browser as honest staff there
"""

from __future__ import annotations

import math
from collections.abc import Callable
from random import Random
from typing import Any

import numpy as np

from distillab.detect.simulate import generators as gen
from distillab.detect.simulate import tasks
from distillab.detect.simulate import timing as tm
from distillab.detect.simulate.actor import COMPLETIONS, Actor, Request, chat_request, system, user
from distillab.detect.simulate.config import CAMPAIGNS
from distillab.detect.simulate.identity import (
    BROWSERS,
    MODELS,
    SDKS,
    Account,
    cloud_prefix,
    home_ip,
    in_prefix,
)
from distillab.detect.simulate.world import World

WEIGHT = {"heavy": 3.0, "many-accounts": 2.0, "low-and-slow": 0.5}
"""Share of the campaign budget relative to the others (1)."""
_ACCOUNTS = {
    "heavy": (0, 1, 1),
    "many-accounts": (400, 20, 200),
    "low-and-slow": (150, 2, 40),
    "templated": (3000, 1, 3),
    "paraphrase": (2000, 2, 5),
    "chain-of-thought": (1500, 2, 6),
    "logprob-harvest": (2000, 1, 4),
    "shared-proxy": (200, 3, 30),
}
"""strategy -> (requests per account and day it aims at, fewest accounts, most accounts)."""
_DUTY = {
    "many-accounts": 0.8,
    "templated": 0.6,
    "paraphrase": 0.5,
    "chain-of-thought": 0.5,
    "logprob-harvest": 0.6,
}
"""Scripted strategies send at about this fraction of the rate limit while active (the others spread out)."""


def campaign_id(strategy: str) -> str:
    """The label of a strategy's campaign: stable whichever strategies are chosen."""
    return f"campaign-{CAMPAIGNS.index(strategy) + 1:02d}"


def _split(total: int, weights: list[float]) -> list[int]:
    """`total` in integer parts proportional to `weights` (largest remainder, deterministic)."""
    exact = [total * w / sum(weights) for w in weights]
    parts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (parts[i] - exact[i], i))[: total - sum(parts)]:
        parts[i] += 1
    return parts


class CampaignActor(Actor):
    def __init__(self, account: Account, times: np.ndarray, r: Random, campaign: Campaign):
        super().__init__(account, times, r)
        self.campaign = campaign

    def request(self, ts: float, ok: bool) -> Request:
        return self.campaign.request(self)


class Campaign:
    """One campaign: its accounts, their identities and timing, and the shared prompt source."""

    def __init__(self, world: World, strategy: str, budget: int):
        self.world, self.strategy, self.id = world, strategy, campaign_id(strategy)
        self.r, self.g = world.random(f"campaign:{strategy}"), world.numpy(f"campaign:{strategy}")
        per_day, fewest, most = _ACCOUNTS[strategy]
        days = math.ceil(world.days)
        k = 1 if not per_day else min(most, max(fewest, math.ceil(budget / (per_day * days))))
        k = max(1, min(k, budget))
        spread = 0.15 if strategy == "many-accounts" else 0.6
        self.counts = _split(budget, [float(w) for w in self.g.lognormal(0.0, spread, k)])
        self.source = self._source()
        self.actors = self._actors()

    def _source(self) -> Callable[[], tasks.Task]:
        r, s = self.r, self.strategy
        if s == "templated":
            return gen.Grid(r)
        if s == "paraphrase":
            repeats = r.randint(3, 6)
            return gen.Paraphrases(r, sum(self.counts) // repeats, repeats)
        if s == "chain-of-thought":
            sweep = gen.Sweep(r, ("math", "coding", "trivia", "chat", "math"))
            return lambda: gen.elicit_cot(r, sweep())
        if s == "low-and-slow":
            return gen.Sweep(r, ("math", "coding", "trivia", "summarise", "chat"))
        return gen.Sweep(r)

    def _actors(self) -> list[Actor]:
        w, r, s = self.world, self.r, self.strategy
        ids, rpm = w.ids, w.config.rate_limit_rpm
        shared_org = ids.org() if s in ("heavy", "templated", "logprob-harvest") or r.random() < 0.5 else None
        shared_pay = ids.payment() if r.random() < 0.5 else None
        prefixes = [cloud_prefix(r) for _ in range(r.randint(1, 4))]
        agent = r.choice(SDKS)
        proxy = r.choice(w.proxies)
        windows = self._windows(self.g, proxy.tz)
        actors: list[Actor] = []
        for j, count in enumerate(self.counts):
            ar, g = w.random(f"campaign:{s}:{j}"), w.numpy(f"campaign:{s}:{j}")
            account = Account(
                ids.account(), self.id, s, [ids.key_id()], [], "pool", [agent], shared_org, shared_pay, rpm
            )
            if s == "many-accounts" and shared_pay is None:  # cards reused across small groups of accounts
                account.payment_id = ids.payment() if j % 5 == 0 else actors[j - j % 5].account.payment_id
            elif shared_pay is None:
                account.payment_id = ids.payment()
            if s == "low-and-slow":  # looks like a person at home
                account.ips, account.ip_mode, account.user_agents = (
                    [home_ip(ar) for _ in range(2)],
                    "daily",
                    [ar.choice(BROWSERS)],
                )
                account.org = None
            elif s == "chain-of-thought":  # a rotating residential proxy service
                account.ips = [home_ip(ar) for _ in range(12)]
            elif s == "shared-proxy":
                account.ips, account.user_agents = (
                    [in_prefix(ar, proxy.prefix) for _ in range(4)],
                    [proxy.user_agent],
                )
            elif s == "many-accounts":
                account.ips, account.ip_mode = [in_prefix(ar, ar.choice(prefixes))], "fixed"
            else:
                account.ips = [in_prefix(ar, prefixes[0]) for _ in range(ar.randint(1, 3))]
                if s == "paraphrase":
                    account.user_agents = [ar.choice(SDKS)]
            mine = (
                windows
                if s in ("many-accounts", "shared-proxy")
                else self._windows(g, ar.choice(tm.TIMEZONES))
            )
            if s in _DUTY:  # scripts run at a good fraction of the limit while they run
                mine = tm.trim(mine, count * w.min_gap / _DUTY[s])
            actors.append(CampaignActor(account, tm.paced(g, count, mine, w.min_gap), ar, self))
        return actors

    def _windows(self, g: np.random.Generator, tz: float) -> np.ndarray:
        days, s = self.world.days, self.strategy
        if s == "heavy":  # restarted a couple of times a day, otherwise always on
            return tm.daily_windows(g, days=days, tz=0.0, first_hour=(0, 12), length_h=(8, 14), per_day=2)
        if s == "many-accounts":
            return tm.daily_windows(g, days=days, tz=0.0, first_hour=(0, 20), length_h=(2, 6), per_day=2)
        if s == "low-and-slow":
            return tm.daily_windows(g, days=days, tz=tz, first_hour=(8, 10), length_h=(8, 11))
        if s == "shared-proxy":
            return tm.daily_windows(g, days=days, tz=tz, first_hour=(8.5, 10), length_h=(7, 9))
        return tm.daily_windows(
            g, days=days, tz=tz, first_hour=(0, 22), length_h=(3, 10), per_day=2, every_day=False
        )

    def request(self, actor: Actor) -> Request:
        r, s = actor.r, self.strategy
        if s == "logprob-harvest" and r.random() < 0.35:
            opening, rest = gen.continuation(r)
            return Request(
                COMPLETIONS,
                MODELS[0],
                None,
                opening,
                {"logprobs": 20, "temperature": 1.0, "n": 4, "max_tokens": 512},
                rest,
            )
        task = self.source()
        params: dict[str, Any]
        head: list[dict[str, str]] = []
        if s == "logprob-harvest":
            params = {
                "temperature": 1.0,
                "n": r.choice((4, 8)),
                "max_tokens": r.choice((1024, 2048, 4096)),
                "logprobs": True,
                "top_logprobs": 20,
            }
        elif s == "chain-of-thought":
            params = {"temperature": 0.6, "max_tokens": 4096}
            head = [system(r.choice(gen.COT_SYSTEMS))] if r.random() < 0.4 else []
        elif s in ("low-and-slow", "shared-proxy"):
            params = {"temperature": 0.7, "max_tokens": 1024, "stream": True}
        elif s == "heavy":
            params = {"temperature": 0.7, "max_tokens": 2048}
            head = [system("You are a helpful assistant.")]
        else:
            params = {"temperature": 1.0 if s == "many-accounts" else 0.8, "max_tokens": 1024}
        return chat_request(MODELS[0], head + [user(task.prompt)], params, task.reply)


def build_campaigns(world: World, honest_requests: int) -> list[Campaign]:
    """Campaigns sized so they send `attacker_share` of all requests (fewer if the rate limit caps them)."""
    config = world.config
    if config.attacker_share <= 0 or not config.campaigns:
        return []
    budget = round(honest_requests * config.attacker_share / (1 - config.attacker_share))
    parts = _split(budget, [WEIGHT.get(s, 1.0) for s in config.campaigns])
    return [Campaign(world, s, part) for s, part in zip(config.campaigns, parts) if part > 0]
