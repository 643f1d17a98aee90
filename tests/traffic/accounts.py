"""Accounts and their identities. Honest teams (developers, benchmark, labelling and RAG groups of a
company) share an org, a payment id and an office network; individual people share home ISPs,
carrier-grade NAT, campus networks and VPN exits with strangers. Every campaign account gets org and
payment ids of its own that nobody else holds (only `cot-elicitation` pairs share a payment id, within
the campaign)."""

from __future__ import annotations

import random

from .core import Account, World
from .honest import ADOPTION
from .identity import CHAT_CLIENTS, FRAMEWORKS, SDKS, host, person_addresses
from .timing import DAY, timezone

TEAMS = {"developer", "benchmark", "labelling", "rag", "content-writer"}
SERVICE = {"benchmark", "rag", "translation", "labelling", "assistant-app", "tutoring-app"}
"""Personas on a higher plan: their rate limit is 10x the base."""


def _addresses(rng: random.Random, world: World, kind: str, office: str | None) -> list[str]:
    nets = world.nets
    if kind == "chat":
        return person_addresses(rng, nets, vpn=0.12)
    if kind == "student":
        return person_addresses(rng, nets, vpn=0.08, campus=rng.random() < 0.4)
    if kind in ("developer", "content-writer"):
        assert office is not None
        return [host(rng, office)] * 3 + person_addresses(rng, nets, vpn=0.1)[:2]
    if kind == "labelling":
        assert office is not None
        return [host(rng, office), host(rng, office), host(rng, rng.choice(nets.cloud))]
    return [host(rng, p) for p in rng.sample(nets.cloud, rng.randint(1, 2))]


def _user_agents(rng: random.Random, kind: str) -> list[str]:
    if kind == "chat":
        return [rng.choice(CHAT_CLIENTS + SDKS[:5])]
    if kind == "student":
        return [rng.choice(CHAT_CLIENTS)]
    if kind == "developer":
        return [*rng.sample(SDKS, 2), "curl/8.5.0"]
    if kind == "benchmark":
        return [rng.choice(["lm-eval-harness/0.4.7", "OpenAI/Python 1.58.1", "python-httpx/0.27.2"])]
    if kind in ("rag", "assistant-app", "tutoring-app"):
        return [rng.choice(FRAMEWORKS)]
    if kind == "translation":
        app = rng.choice(["Lingo", "Parla", "Wordbridge", "Traduko", "Glossa"])
        return [f"{app}-backend/{rng.randint(1, 4)}.{rng.randint(0, 20)}"]
    return [rng.choice(["python-requests/2.32.3", "OpenAI/Python 1.54.3"])]


def honest_accounts(rng: random.Random, world: World, counts: dict[str, int]) -> list[Account]:
    accounts = []
    for kind, count in counts.items():
        made = 0
        while made < count:
            team = min(count - made, rng.choice([1, 1, 2, 3, 4]) if kind in TEAMS else 1)
            org = world.ids.new("org-")
            payment = None if kind == "chat" and rng.random() < 0.3 else world.ids.new("pm-")
            office = (
                world.nets.new_office(rng) if kind in {"developer", "labelling", "content-writer"} else None
            )
            tz = timezone(rng)
            for _ in range(team):
                chance, delay = ADOPTION[kind]
                adopt = None
                if world.release_at is not None and rng.random() < chance:
                    adopt = world.release_at + rng.expovariate(1 / delay) * DAY
                accounts.append(
                    Account(
                        name=world.ids.new("acct-"),
                        kind=kind,
                        label="benign",
                        tz=tz,
                        org=org,
                        payment_id=payment,
                        keys=[world.ids.new("key-") for _ in range(rng.randint(1, 3))],
                        addresses=_addresses(rng, world, kind, office),
                        user_agents=_user_agents(rng, kind),
                        rate_limit=world.rate_limit * (10 if kind in SERVICE else 1),
                        model="atlas-1-mini" if rng.random() < 0.15 else "atlas-1",
                        adopt_at=adopt,
                        new_share=rng.uniform(0.3, 1.0),
                    )
                )
            made += team
    return accounts


def campaign_accounts(rng: random.Random, world: World, kind: str, count: int) -> list[Account]:
    """`count` accounts of one campaign (its id is its kind)."""
    nets = world.nets
    prefixes = rng.sample(nets.cloud, 2)
    accounts = []
    payment = ""
    for i in range(count):
        if kind == "hydra":  # addresses are proxy exits, picked per request
            addresses, agents = [host(rng, rng.choice(nets.proxy))], rng.sample(SDKS, 3)
        elif kind == "low-and-slow":
            addresses, agents = person_addresses(rng, nets, vpn=0.0), [rng.choice(SDKS + CHAT_CLIENTS)]
        else:
            addresses, agents = [host(rng, rng.choice(prefixes)) for _ in range(3)], [rng.choice(SDKS)]
        if kind != "cot-elicitation" or i % 2 == 0:
            payment = world.ids.new("pm-")
        accounts.append(
            Account(
                name=world.ids.new("acct-"),
                kind=kind,
                label=kind,
                tz=timezone(rng) if kind == "low-and-slow" else 8.0,
                org=world.ids.new("org-"),
                payment_id=payment,
                keys=[world.ids.new("key-") for _ in range(rng.randint(1, 2))],
                addresses=addresses,
                user_agents=agents,
                rate_limit=world.rate_limit,
            )
        )
    return accounts
