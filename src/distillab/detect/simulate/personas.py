"""Honest accounts: people chatting, coding and asking about documents (multi-turn), bursty power users,
support apps, and the hard negatives in `workloads` (benchmark teams, labelling companies).

`build_honest(world)` makes `accounts` of them, at least one of each persona when there are enough.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from random import Random
from typing import Any

import numpy as np

from distillab.detect.simulate import tasks, words
from distillab.detect.simulate import timing as tm
from distillab.detect.simulate.actor import Actor, Request, assistant, chat_request, system, user
from distillab.detect.simulate.config import PERSONAS
from distillab.detect.simulate.domains import DOMAINS
from distillab.detect.simulate.identity import (
    APPS,
    BROWSERS,
    EVALS,
    IDES,
    MODELS,
    SDKS,
    Account,
    cloud_prefix,
    home_ip,
    in_prefix,
)
from distillab.detect.simulate.text import pick, terms
from distillab.detect.simulate.workloads import Benchmark, Labelling
from distillab.detect.simulate.world import World

PEOPLE = ("chat", "coding", "doc-qa", "power-user")
WEIGHTS = {
    "chat": 0.42,
    "coding": 0.2,
    "doc-qa": 0.12,
    "power-user": 0.1,
    "support-app": 0.06,
    "benchmark": 0.05,
    "labelling": 0.05,
}
ENTERPRISE = 10.0
"""Enterprise-tier accounts (apps, benchmarks, labelling) get this many times the standard rate limit."""
_FOLLOW_UPS = (
    ("Can you make it shorter?", "Sure, in short: "),
    ("Thanks! Could you give an example?", "For example: "),
    ("Can you explain that last part again?", "Of course. "),
    ("hmm, are you sure?", "Good question. "),
    ("Great, and what would you do differently?", "I'd keep it simple: "),
    ("ok. can you put that in a table?", "Here it is as a list: "),
)
_SUPPORT_FOLLOW_UPS = (
    (
        "It still hasn't arrived, what now?",
        "I've escalated it to the carrier; you'll get an update by email.",
    ),
    ("Thanks, that worked!", "Glad to hear it! Anything else I can help with?"),
    ("Can I talk to a human please?", "Of course, I'm transferring you to a colleague now."),
    ("How long will the refund take?", "Refunds usually reach your account within 5 business days."),
)
_DOC_SYSTEM = (
    "Answer questions using only the document the user provides. Say so when it does not contain the answer."
)
_DOMAINS = {
    "chat": (("chat", 6), ("trivia", 2), ("translation", 1), ("summarise", 1), ("math", 1)),
    "coding": (("coding", 8), ("math", 1), ("summarise", 1)),
    "power-user": (
        ("coding", 3),
        ("chat", 2),
        ("math", 2),
        ("summarise", 2),
        ("translation", 1),
        ("trivia", 1),
    ),
    "support-app": (("support", 1),),
}


class Conversation(Actor):
    """A person (or an app's end users) in multi-turn chats: later turns carry the earlier ones."""

    def setup(
        self,
        domains: tuple[tuple[str, int], ...],
        params: list[dict[str, Any]],
        *,
        system_prompt: str = "",
        follow: float = 0.85,
        max_turns: int = 8,
        gap_s: float = 1200.0,
        documents: bool = False,
    ) -> None:
        self.names = [d for d, _ in domains]
        self.cum_weights = list(itertools.accumulate(w for _, w in domains))
        self.params, self.system, self.follow, self.max_turns, self.gap_s = (
            params,
            system_prompt,
            follow,
            max_turns,
            gap_s,
        )
        self.documents = documents
        self.terms: list[str] = []
        self.topic = ""
        """The first line of the conversation's first reply, which generic follow-ups refer back to."""
        self.history: list[dict[str, str]] = []
        self.last, self.turns, self.model, self.domain, self.doc = (
            -1e18,
            0,
            MODELS[0],
            (self.names or [""])[0],
            "",
        )

    def _new(self) -> tasks.Task:
        r = self.r
        if self.documents:
            _, self.doc = tasks.pick_document(r)
            self.terms = terms(self.doc)
            task = tasks.doc_question(r, self.doc, self.terms)
            framing = pick(
                r,
                (
                    'Here is a document:\n\n"""\n{doc}\n"""\n\n{q}',
                    "{doc}\n\n{q}",
                    "Read this and answer my question.\n\n{doc}\n\nQuestion: {q}",
                ),
            )
            return task._replace(prompt=framing.format(doc=self.doc, q=task.prompt))
        self.domain = r.choices(self.names, cum_weights=self.cum_weights)[0]
        return DOMAINS[self.domain](r)

    def _follow_up(self) -> tasks.Task:
        r = self.r
        if self.documents:
            return tasks.doc_question(r, self.doc, self.terms)
        if self.domain == "support":
            question, answer = pick(r, _SUPPORT_FOLLOW_UPS)
            return tasks.Task(question, answer, (), answer)
        if r.random() < 0.5:
            task = DOMAINS[self.domain](r)
            return task._replace(
                prompt=pick(r, ("Also, ", "Another question: ", "", "One more thing. ")) + task.prompt
            )
        if self.domain == "coding" and r.random() < 0.5:
            error = pick(r, words.CODE_ERRORS)
            return tasks.Task(
                f"That didn't work, I get `{error}`",
                f"Sorry about that. `{error.split(':')[0]}` "
                "means the input is not what the code expects; add a check before that line.",
                (),
                error,
            )
        question, opener = pick(r, _FOLLOW_UPS)
        return tasks.Task(question, opener + self.topic, (), self.topic)

    def request(self, ts: float, ok: bool) -> Request:
        r = self.r
        going_on = (
            self.history
            and ts - self.last < self.gap_s
            and self.turns < self.max_turns
            and r.random() < self.follow
        )
        if going_on:
            task = self._follow_up()
            messages = self.history + [user(task.prompt)]
        else:
            self.history, self.turns = [], 0
            self.model = MODELS[0] if r.random() < 0.85 else MODELS[1]
            task = self._new()
            self.topic = task.reply.split("\n")[0]
            messages = ([system(self.system)] if self.system else []) + [user(task.prompt)]
        self.last = ts
        if ok:
            self.history = messages + [assistant(task.reply)]
            self.turns += 1
        params = self.params[0] if len(self.params) == 1 else self.params[int(r.random() * len(self.params))]
        return chat_request(self.model, messages, params, task.reply)


@dataclass
class Team:
    org: str
    payment_id: str | None
    prefix: str
    user_agent: str | None
    tz: float


def _teams(world: World, r: Random, workers: int) -> list[Team]:
    """Companies whose staff share an org, often a payment method, and an office or proxy address range."""
    teams = []
    for j in range(max(len(world.proxies), workers // 6)):
        proxy = world.proxies[j] if j < len(world.proxies) else None
        if proxy is None and r.random() < 0.15:
            proxy = r.choice(world.proxies)
        prefix = proxy.prefix if proxy else in_prefix(r, f"{r.randint(60, 99)}.{r.randint(0, 255)}")
        teams.append(
            Team(
                world.ids.org(),
                world.ids.payment() if r.random() < 0.8 else None,
                prefix,
                proxy.user_agent if proxy else None,
                proxy.tz if proxy else r.choice(tm.TIMEZONES),
            )
        )
    return teams


def _person(
    world: World, r: Random, kind: str, team: Team | None, agents: tuple[str, ...]
) -> tuple[Account, float]:
    ids = world.ids
    account = Account(
        ids.account(), "benign", kind, [ids.key_id()], [], rpm_limit=world.config.rate_limit_rpm
    )
    if r.random() < 0.15:
        account.keys.append(ids.key_id())
    account.user_agents = [r.choice(agents)] + ([r.choice(SDKS)] if kind == "power-user" else [])
    if team is not None:
        account.ips, account.ip_mode = [in_prefix(r, team.prefix) for _ in range(4)], "pool"
        account.org, account.payment_id = team.org, team.payment_id or ids.payment()
        if team.user_agent and account.user_agents[0] in BROWSERS:
            account.user_agents[0] = team.user_agent
        return account, team.tz
    mobile = account.user_agents[0] in APPS
    account.ips = [home_ip(r) for _ in range(r.randint(4, 8) if mobile else r.randint(1, 3))]
    account.ip_mode = "pool" if mobile else "daily"
    account.payment_id = ids.payment() if r.random() < 0.85 else None
    return account, r.choice(tm.TIMEZONES)


def _company(world: World, r: Random, kind: str, agents: tuple[str, ...], n_keys: int) -> Account:
    ids = world.ids
    prefix = cloud_prefix(r)
    return Account(
        ids.account(),
        "benign",
        kind,
        [ids.key_id() for _ in range(n_keys)],
        [in_prefix(r, prefix) for _ in range(r.randint(1, 4))],
        "pool",
        [r.choice(agents)],
        ids.org(),
        ids.payment(),
        world.config.rate_limit_rpm * ENTERPRISE,
    )


_CHAT_PARAMS = (
    {"temperature": 0.7, "max_tokens": 1024, "stream": True},
    {"temperature": 1.0, "stream": True},
    {"temperature": 0.7, "top_p": 0.95, "max_tokens": 2048, "stream": True},
)
_POWER_PARAMS = [
    {"temperature": 0.7, "max_tokens": 2048},
    {"temperature": 1.0, "n": 2, "max_tokens": 1024},
    {"temperature": 0.2, "max_tokens": 4096, "stream": True},
    {"temperature": 0.0, "seed": 7},
]


def make_persona(world: World, i: int, kind: str, team: Team | None) -> Actor:
    """Honest account number `i` of persona `kind` (people may work for a `team`)."""
    r, g = world.random(f"honest:{i}"), world.numpy(f"honest:{i}")
    days, start, scale = world.days, world.start, float(g.lognormal(0.0, 0.7))
    if kind in PEOPLE:
        agents = {
            "chat": BROWSERS * 2 + APPS,
            "coding": IDES * 2 + BROWSERS,
            "doc-qa": BROWSERS * 2 + SDKS,
            "power-user": BROWSERS,
        }[kind]
        account, tz = _person(world, r, kind, team, agents)
        shape = {
            "chat": (12, tm.HUMAN_HOURS, 1.1, 3.0, 60.0),
            "coding": (25, tm.WORK_HOURS, 0.25, 4.0, 90.0),
            "doc-qa": (10, tm.WORK_HOURS, 0.3, 3.0, 70.0),
            "power-user": (80, tm.HUMAN_HOURS, 0.8, 25.0, 6.0),
        }
        per_day, hours, weekend, turns, gap = shape[kind]
        times = tm.sessions(
            g,
            start=start,
            days=days,
            per_day=per_day * scale,
            hours=hours,
            weekend=weekend,
            tz=tz,
            turns_mean=turns,
            gap_s=gap,
        )
        actor = Conversation(account, times, r)
        if kind == "doc-qa":
            actor.setup(
                (), [{"temperature": 0.3, "max_tokens": 512}], system_prompt=_DOC_SYSTEM, documents=True
            )
        elif kind == "coding":
            actor.setup(_DOMAINS[kind], [{"temperature": 0.2, "max_tokens": 2048, "stream": True}])
        elif kind == "chat":
            actor.setup(_DOMAINS[kind], [r.choice(_CHAT_PARAMS)])
        else:
            actor.setup(_DOMAINS[kind], _POWER_PARAMS, follow=0.6, max_turns=5)
        return actor
    if kind == "support-app":
        account = _company(world, r, kind, SDKS, r.randint(1, 3))
        times = tm.sessions(
            g,
            start=start,
            days=days,
            per_day=150 * scale,
            hours=tm.HUMAN_HOURS,
            weekend=0.9,
            tz=r.choice(tm.TIMEZONES),
            turns_mean=1.5,
            gap_s=40.0,
        )
        actor = Conversation(account, times, r)
        actor.setup(
            _DOMAINS[kind],
            [{"temperature": 0.3, "max_tokens": 400}],
            follow=0.3,
            max_turns=3,
            gap_s=300.0,
            system_prompt=(
                f"You are the customer support assistant for {account.org}. Be concise and friendly."
            ),
        )
        return actor
    if kind == "benchmark":
        account = _company(world, r, kind, EVALS, 1)
        size = r.randint(100, 400)
        tz = r.choice(tm.TIMEZONES)
        n_runs = int(g.poisson(0.8 * math.ceil(days)))
        runs = g.integers(0, math.ceil(days), n_runs) * tm.DAY + (g.uniform(8, 20, n_runs) - tz) * 3600.0
        times = tm.clip(tm.chains(g, runs, np.full(runs.size, size), 0.9, sigma=0.35), days)
        bench = Benchmark(account, times, r)
        bench.setup(size)
        return bench
    assert kind == "labelling", kind
    account = _company(world, r, kind, SDKS, r.randint(1, 2))
    windows = tm.daily_windows(
        g, days=days, tz=r.choice(tm.TIMEZONES), first_hour=(7, 10), length_h=(6, 10), every_day=False
    )
    times = tm.paced(g, int(250 * scale * days), windows, 0.3)
    labelling = Labelling(account, times, r)
    labelling.setup()
    return labelling


def build_honest(world: World) -> list[Actor]:
    r = world.random("honest")
    n = world.config.accounts
    kinds = list(PERSONAS[:n]) + r.choices(list(WEIGHTS), list(WEIGHTS.values()), k=max(0, n - len(PERSONAS)))
    r.shuffle(kinds)
    teams = _teams(world, r, sum(k in PEOPLE for k in kinds))
    actors, people = [], 0
    for i, kind in enumerate(kinds):
        team = None
        if kind in PEOPLE:
            # The first people work behind the shared proxies, so there is always honest traffic there.
            team = (
                teams[people]
                if people < len(world.proxies)
                else (r.choice(teams) if r.random() < 0.35 else None)
            )
            people += 1
        actors.append(make_persona(world, i, kind, team))
    return actors
