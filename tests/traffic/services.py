"""Honest services that look systematic: benchmark runners (templated, one-token answers,
log-probabilities), RAG integrations (long contexts, one template), a translation app, labelling
companies, an assistant app relaying its users' questions on any topic, and a tutoring app whose system
prompt asks for every step. Each function writes one account's requests over the window."""

from __future__ import annotations

import random
from typing import Any

from . import prompts, tasks
from .core import Account, Call, World, user
from .people import SCHOOL
from .timing import active_days, log_normal, paced, start_time


def benchmark(rng: random.Random, world: World, acct: Account) -> list[Call]:
    """Runs a fixed slice of a public benchmark a few times, paced by a harness; evaluates the new model
    soon after it appears."""
    reasoning, completions, style = rng.random() < 0.3, rng.random() < 0.6, rng.randrange(3)
    size = rng.randint(150, 500)
    if reasoning:
        bank = tasks.reasoning_bank(world.bench_seed, 800, style)
    else:
        bank = tasks.mcq_bank(world.bench_seed, 1200, style)
    offset = rng.randrange(len(bank) - size)
    items = bank[offset : offset + size]
    rpm = acct.rate_limit * rng.uniform(0.3, 0.8)
    runs = sorted(rng.sample(range(world.window.days), min(world.window.days, rng.randint(2, 3))))
    calls: list[Call] = []
    for day in runs:
        start = start_time(rng, world.window, day, acct.tz, "office")
        model = None
        if world.release_at is not None and start > world.release_at and rng.random() < 0.7:
            model = "atlas-2"
        for item, t in zip(items, paced(rng, start, size, rpm, jitter=0.3)):
            if reasoning:
                params: dict[str, Any] = {"temperature": 0, "max_tokens": 512}
                calls.append(Call(t, user(item), params, log_normal(rng, 180, 0.4, high=512), model=model))
            elif completions:
                params = {"temperature": 0, "max_tokens": 1, "logprobs": 5}
                calls.append(Call(t, None, params, 1, prompt=item, model=model))
            else:
                params = {"temperature": 0, "max_tokens": 1, "logprobs": True, "top_logprobs": 5}
                calls.append(Call(t, user(item), params, 1, model=model))
    return calls


def rag(rng: random.Random, world: World, acct: Account) -> list[Call]:
    app = tasks.rag_app(rng, 60)
    per_day = rng.uniform(30, 120)
    profile = rng.choice(["global", "office"])
    calls: list[Call] = []
    for day in active_days(rng, world.window, profile, 0.95):
        for _ in range(log_normal(rng, per_day, 0.3)):
            t = start_time(rng, world.window, day, acct.tz, profile)
            context = "\n\n".join(rng.sample(app.chunks, rng.randint(3, 6)))
            question = tasks.rag_question(rng, app.company)
            messages = user(app.layout.format(context=context, question=question), app.system)
            if rng.random() < 0.2:
                earlier = tasks.rag_question(rng, app.company)
                messages[1:1] = [
                    {"role": "user", "content": earlier},
                    {"role": "assistant", "content": prompts.reply(rng, "that setting")},
                ]
            calls.append(
                Call(t, messages, {"temperature": 0.2, "max_tokens": 512}, log_normal(rng, 150, 0.5))
            )
    return calls


def translation(rng: random.Random, world: World, acct: Account) -> list[Call]:
    per_day = rng.uniform(30, 150)
    style = rng.choice(tasks.TRANSLATE_STYLES)
    calls: list[Call] = []
    for day in active_days(rng, world.window, "global", 1.0):
        for _ in range(log_normal(rng, per_day, 0.25)):
            t = start_time(rng, world.window, day, acct.tz, "global")
            source, target = tasks.language_pair(rng)
            text = tasks.translation_text(rng)
            prompt = style.format(source=source, target=target, text=text)
            tokens = int(len(text) / 3.5)
            calls.append(
                Call(t, user(prompt), {"temperature": 0.3, "max_tokens": 1024}, log_normal(rng, tokens, 0.2))
            )
    return calls


def labelling(rng: random.Random, world: World, acct: Account) -> list[Call]:
    """Batches of new items under one instruction, a word of output each."""
    scheme = rng.choice(["sentiment", "routing", "topic", "preference"])
    header = rng.choice(["", "Task: ", "Instructions: ", "You are a careful annotator. ", "[batch job] "])
    rpm = acct.rate_limit * rng.uniform(0.2, 0.6)
    calls: list[Call] = []
    for day in active_days(rng, world.window, "office", 0.6):
        for _ in range(rng.choice([1, 1, 2])):
            start = start_time(rng, world.window, day, acct.tz, "office")
            for t in paced(rng, start, rng.randint(50, 250), rpm, jitter=0.5):
                text, params = tasks.label_item(rng, scheme)
                calls.append(Call(t, user(header + text), params, rng.randint(1, int(params["max_tokens"]))))
    return calls


def assistant_app(rng: random.Random, world: World, acct: Account) -> list[Call]:
    """A consumer app's backend relaying its users' questions (an ask-anything app, a bot in a team chat):
    one request per question, any topic, users everywhere, answers of a few hundred tokens."""
    app = tasks.company_name(rng).split()[0]
    system = rng.choice(
        [
            f"You are {app}, the friendly assistant in the {app} app. Answer clearly.",
            f"You are {app}, a helpful assistant inside a team chat. Be concise unless asked for detail.",
            f"You answer questions for users of the {app} browser extension.",
        ]
    )
    per_day = rng.uniform(15, 90)
    calls: list[Call] = []
    for day in active_days(rng, world.window, "global", 0.95):
        for _ in range(log_normal(rng, per_day, 0.3)):
            r = rng.random()
            if r < 0.45:
                text, topic = prompts.everyday(rng)
            elif r < 0.75:
                q = prompts.question(rng)
                text, topic = prompts.phrase(rng, q), q.y
            elif r < 0.88:
                text, topic = prompts.writing_help(rng), "the message"
            else:
                text, topic = tasks.code_question(rng), "the code"
            messages = user(text, system)
            if rng.random() < 0.25:  # the app keeps the user's previous exchange
                messages[1:1] = [
                    {"role": "user", "content": prompts.everyday(rng)[0]},
                    {"role": "assistant", "content": prompts.reply(rng, topic)},
                ]
            t = start_time(rng, world.window, day, acct.tz, "global")
            calls.append(
                Call(
                    t,
                    messages,
                    {"temperature": 0.7, "max_tokens": 1500},
                    log_normal(rng, 380, 0.6, high=1500),
                )
            )
    return calls


def tutoring_app(rng: random.Random, world: World, acct: Account) -> list[Call]:
    """An education platform: its students' questions under one system prompt that asks for every step."""
    app = tasks.company_name(rng).split()[0]
    system = rng.choice(
        [
            f"You are the {app} tutor. Explain every step of your reasoning so the student can follow, "
            "then state the final answer.",
            f"You are a patient maths and science tutor on {app}. Work through the problem step by step "
            "and check each step.",
        ]
    )
    per_day = rng.uniform(20, 120)
    calls: list[Call] = []
    for day in active_days(rng, world.window, "student", 0.95):
        for _ in range(log_normal(rng, per_day, 0.3)):
            r = rng.random()
            if r < 0.4:
                text = prompts.word_problem(rng)[0]
            elif r < 0.55:
                a, b, x = rng.randint(2, 9), rng.randint(1, 30), rng.randint(-5, 12)
                text = f"Solve for x: {a}x + {b} = {a * x + b}"
            else:
                text = prompts.knowledge(rng, rng.choice(SCHOOL))
            t = start_time(rng, world.window, day, acct.tz, "student")
            calls.append(
                Call(
                    t,
                    user(text, system),
                    {"temperature": 0.3, "max_tokens": 2048},
                    log_normal(rng, 650, 0.5, high=2048),
                )
            )
    return calls
