"""Distillation campaigns, after public descriptions (Anthropic, "Detecting and preventing distillation
attacks", Feb 2026; Google Threat Intelligence, Feb 2026; OpenAI's reports on model extraction):

- `hydra`: tens of accounts, each with its own payment id and org, sending through a pool of shared
  commercial proxy exits that also carry ordinary users; a work queue spreads a broad task space over
  them, mixed with mundane requests; accounts drop out and replacements join during the week.
- `cot-elicitation`: reasoning extraction at volume, walking a taxonomy systematically, paced just under
  the per-account rate limit, the accounts' sessions synchronised (one scheduler), payment ids shared
  in pairs (as reported of one campaign).
- `low-and-slow`: a few requests a day per account, paraphrases of one task set, at human hours.
- `logprob-harvest`: log-probabilities at temperature 0, or several samples (n > 1), over broad
  instruction prompts; some through /v1/completions.
- `augmentation`: first asks for many rewrites of its own seed questions, then deep answers to them.
- `model-pivot`: agentic coding and tool-use traces; moves about half its traffic to a newly released
  model within a day of its release.

Each campaign function takes the campaign's accounts and returns every account's requests."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from . import attack_text as at
from . import prompts
from .core import Account, Call, World, user
from .identity import host
from .timing import HOUR, human, log_normal, paced, start_time

OPERATOR_TZ = 8.0
LONG = {"max_tokens": 8192}


def _mundane(rng: random.Random, t: float) -> Call:
    """Ordinary-looking traffic a proxy network mixes in."""
    if rng.random() < 0.6:
        text, topic = prompts.everyday(rng)
    else:
        text, topic = prompts.knowledge(rng), "that"
    messages = user(text)
    if rng.random() < 0.3:
        messages += [
            {"role": "assistant", "content": prompts.reply(rng, topic)},
            {"role": "user", "content": prompts.follow_up(rng, topic)},
        ]
    return Call(t, messages, {"temperature": 0.7, "max_tokens": 2048}, log_normal(rng, 300, 0.7, high=2048))


def _harvest(rng: random.Random, t: float, item: at.Item) -> Call:
    r = rng.random()
    params: dict[str, Any] = {"temperature": rng.choice([0.6, 0.8, 1.0]), **LONG}
    if r < 0.5:
        messages = user(at.expert_prompt(rng, item))
    elif r < 0.7:
        messages = user(at.code_harvest(rng))
    elif r < 0.85:
        messages = user(at.reconstruct_reasoning(rng))
    else:
        messages = at.agent_messages(rng)
    return Call(t, messages, params, log_normal(rng, 1100, 0.5, high=8192))


def hydra(rng: random.Random, world: World, accounts: list[Account]) -> dict[str, list[Call]]:
    space = at.task_space()
    rng.shuffle(space)
    queue = 0
    days = world.window.days
    out: dict[str, list[Call]] = {}
    for acct in accounts:
        first = 0 if rng.random() < 0.6 else rng.randrange(days)
        last = min(days, first + rng.randint(2, max(2, days)))
        calls = []
        for day in range(first, last):
            for _ in range(rng.randint(1, 3)):
                start = start_time(rng, world.window, day, OPERATOR_TZ, "shift")
                for t in human(rng, start, rng.randint(8, 30), 40):
                    if rng.random() < 0.35:
                        call = _mundane(rng, t)
                    else:
                        call = _harvest(rng, t, space[queue % len(space)])
                        queue += 1
                    call.ip = host(rng, rng.choice(world.nets.proxy))
                    calls.append(call)
        out[acct.name] = calls
    return out


def _cot_request(rng: random.Random, t: float, item: at.Item) -> Call:
    r = rng.random()
    if r < 0.55:
        text = at.expert_prompt(rng, item)
    elif r < 0.7:
        text = at.solve_with_reasoning(rng)
    elif r < 0.85:
        text = at.reconstruct_reasoning(rng)
    elif r < 0.95:
        text = at.rubric_grade(rng)
    else:
        text = at.code_harvest(rng)
    params = {"temperature": rng.choice([0.6, 0.8, 1.0]), **LONG}
    return Call(t, user(text), params, log_normal(rng, 1200, 0.5, high=8192))


def cot_elicitation(rng: random.Random, world: World, accounts: list[Account]) -> dict[str, list[Call]]:
    space = at.task_space()
    rng.shuffle(space)
    k = len(accounts)
    slices = {a.name: space[i::k] for i, a in enumerate(accounts)}
    position = dict.fromkeys(slices, 0)
    out: dict[str, list[Call]] = {a.name: [] for a in accounts}
    for day in range(world.window.days):
        session = start_time(rng, world.window, day, OPERATOR_TZ, "shift")  # one scheduler for all
        minutes = rng.uniform(15, 35)
        for acct in accounts:
            rpm = acct.rate_limit * rng.uniform(0.85, 0.97)
            start = session + rng.uniform(0, 180)
            for t in paced(rng, start, int(rpm * minutes), rpm, jitter=0.12):
                items = slices[acct.name]
                out[acct.name].append(_cot_request(rng, t, items[position[acct.name] % len(items)]))
                position[acct.name] += 1
    return out


def low_and_slow(rng: random.Random, world: World, accounts: list[Account]) -> dict[str, list[Call]]:
    task_set = [prompts.question(rng) for _ in range(40)]
    out: dict[str, list[Call]] = {}
    for acct in accounts:
        last: dict[prompts.Question, str] = {}
        calls = []
        for day in range(world.window.days):
            if rng.random() > 0.85:
                continue
            for _ in range(rng.randint(3, 12)):
                q = rng.choice(task_set)
                text = last[q] = prompts.paraphrase(rng, q, last.get(q, ""))
                if rng.random() < 0.3:
                    text += " Please explain your reasoning."
                t = start_time(rng, world.window, day, acct.tz, rng.choice(["evening", "office"]))
                calls.append(
                    Call(t, user(text), {"temperature": 0.7, "max_tokens": 2048}, log_normal(rng, 600, 0.5))
                )
        out[acct.name] = calls
    return out


def _logprob_request(rng: random.Random, t: float) -> Call:
    r = rng.random()
    if r < 0.45:
        params: dict[str, Any] = {"temperature": 0, "logprobs": True, "top_logprobs": 20, "max_tokens": 512}
        return Call(t, user(at.instruction(rng)), params, log_normal(rng, 250, 0.5, high=512))
    if r < 0.75:
        n = rng.choice([4, 8, 16])
        params = {"temperature": 1.0, "n": n, "max_tokens": 512}
        return Call(
            t, user(at.instruction(rng)), params, sum(log_normal(rng, 250, 0.5, high=512) for _ in range(n))
        )
    prompt = f"### Instruction:\n{at.instruction(rng)}\n\n### Response:\n"
    return Call(
        t,
        None,
        {"temperature": 0, "max_tokens": 256, "logprobs": 5},
        log_normal(rng, 200, 0.4, high=256),
        prompt=prompt,
    )


def _scripted(
    rng: random.Random, world: World, acct: Account, count: int, days: range, share: tuple[float, float]
) -> list[float]:
    """`count` request times in paced sessions (10-25 minutes at `share` of the rate limit) on `days`."""
    rpm = acct.rate_limit * rng.uniform(*share)
    times: list[float] = []
    busy: list[tuple[float, float]] = []
    while len(times) < count:
        size = min(count - len(times), int(rpm * rng.uniform(10, 25)))
        for _ in range(20):  # one session at a time: running two at once would go over the limit
            start = start_time(rng, world.window, rng.choice(days), OPERATOR_TZ, "shift")
            end = start + (size + 1) * 60.0 / rpm * 1.5
            if not any(start < e and s < end for s, e in busy):
                break
        busy.append((start, end))
        times += paced(rng, start, size, rpm, jitter=0.2)
    return times


def logprob_harvest(rng: random.Random, world: World, accounts: list[Account]) -> dict[str, list[Call]]:
    out = {}
    for acct in accounts:
        count = int(rng.uniform(250, 400) * world.window.days)
        times = _scripted(rng, world, acct, count, range(world.window.days), (0.5, 0.8))
        out[acct.name] = [_logprob_request(rng, t) for t in times]
    return out


def augmentation(rng: random.Random, world: World, accounts: list[Account]) -> dict[str, list[Call]]:
    days = world.window.days
    first_phase = range(max(1, math.ceil(0.4 * days)))
    second_phase = range(int(0.3 * days), days)
    out = {}
    for acct in accounts:
        seeds = [prompts.question(rng) for _ in range(rng.randint(80, 120))]
        counts = [rng.randint(5, 10) for _ in seeds]
        calls = []
        asked = sorted(_scripted(rng, world, acct, len(seeds), first_phase, (0.4, 0.7)))
        for q, k, t in zip(seeds, counts, asked):
            text = at.rewrite_request(rng, prompts.phrase(rng, q, casual=False), k)
            calls.append(
                Call(t, user(text), {"temperature": 0.9, "max_tokens": 1024}, log_normal(rng, 35 * k, 0.3))
            )
        # a rewrite is answered only after the request that produced it
        rewrites = [(q, t) for q, k, t in zip(seeds, counts, asked) for _ in range(k)]
        times = sorted(_scripted(rng, world, acct, len(rewrites), second_phase, (0.4, 0.7)))
        for (q, produced), t in zip(rewrites, times):
            text = at.deep_answer_request(rng, at.rewrite(rng, q))
            answer = log_normal(rng, 900, 0.5, high=8192)
            calls.append(
                Call(
                    max(t, produced + rng.uniform(60, 600)), user(text), {"temperature": 0.7, **LONG}, answer
                )
            )
        out[acct.name] = calls
    return out


def model_pivot(rng: random.Random, world: World, accounts: list[Account]) -> dict[str, list[Call]]:
    out = {}
    for acct in accounts:
        calls = []
        for day in range(world.window.days):
            for _ in range(rng.randint(1, 3)):
                start = start_time(rng, world.window, day, OPERATOR_TZ, "shift")
                for t in human(rng, start, rng.randint(15, 60), 15):
                    if rng.random() < 0.6:
                        messages = at.agent_messages(rng)
                    else:
                        messages = user(at.code_harvest(rng))
                    params = {"temperature": 0.2, "max_tokens": 4096, "tool_choice": "auto"}
                    calls.append(Call(t, messages, params, log_normal(rng, 350, 0.6, high=4096)))
        out[acct.name] = calls
        if world.release_at is not None:
            acct.adopt_at = world.release_at + rng.uniform(1, 20) * HOUR
            acct.new_share = rng.uniform(0.4, 0.6)
    return out


Campaign = Callable[[random.Random, World, list[Account]], dict[str, list[Call]]]

# kind -> (accounts for a log of n accounts, traffic)
CAMPAIGNS: dict[str, tuple[Callable[[int], int], Campaign]] = {
    "hydra": (lambda n: max(8, round(0.05 * n)), hydra),
    "cot-elicitation": (lambda n: max(2, round(n / 150)), cot_elicitation),
    "low-and-slow": (lambda n: max(3, round(n / 100)), low_and_slow),
    "logprob-harvest": (lambda n: max(2, round(n / 200)), logprob_harvest),
    "augmentation": (lambda n: max(2, round(n / 200)), augmentation),
    "model-pivot": (lambda n: max(3, round(n / 120)), model_pivot),
}
