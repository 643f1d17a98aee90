"""Honest people: ordinary chat users, students, developers testing an integration, and content writers
drafting long articles (an honest heavy user whose requests look like a harvest's on their own).
Each function writes one account's requests over the window."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from . import prompts, tasks
from .core import Account, Call, World, conversation, user
from .timing import active_days, human, log_normal, start_time
from .vocab import ERRORS, EVERYDAY

SCHOOL = ["mathematics", "physics", "chemistry", "biology", "history", "literature", "geography", "economics"]
SHOW_WORK = ["Show your work.", "Explain step by step.", "Can you walk me through it step by step?", ""]


def chat(rng: random.Random, world: World, acct: Account) -> list[Call]:
    calls: list[Call] = []
    params: dict[str, Any] = {"temperature": rng.choice([0.7, 1.0]), "max_tokens": 2048}
    if rng.random() < 0.5:
        params["stream"] = True
    for day in active_days(rng, world.window, "evening", rng.uniform(0.2, 0.9)):
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            kind = rng.random()
            if kind < 0.55:
                first, topic = prompts.everyday(rng)
            elif kind < 0.8:
                q = prompts.question(rng)
                first, topic = prompts.phrase(rng, q), q.y
            else:
                first, topic = prompts.writing_help(rng), "the message"
            turns = [first] + [
                prompts.follow_up(rng, topic) for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5]))
            ]
            start = start_time(rng, world.window, day, acct.tz, "evening")
            system = "You are a helpful assistant." if rng.random() < 0.3 else None
            calls += conversation(
                rng, start, turns, topic, params, median_gap=70, completion=300, system=system
            )
    return calls


def student(rng: random.Random, world: World, acct: Account) -> list[Call]:
    calls: list[Call] = []
    params: dict[str, Any] = {"temperature": 0.7, "max_tokens": 2048}
    for day in active_days(rng, world.window, "student", rng.uniform(0.3, 0.9)):
        for _ in range(rng.choice([1, 1, 2, 3])):
            kind = rng.random()
            if kind < 0.35:
                problem, answer = prompts.word_problem(rng)
                first = f"Can you help me with this problem? {problem} {rng.choice(SHOW_WORK)}".strip()
                later = [
                    f"I got {answer}, is that right?",
                    "I don't get the second step.",
                    "Why do we divide there?",
                ]
            elif kind < 0.5:
                a, b, x = rng.randint(2, 9), rng.randint(1, 30), rng.randint(-5, 12)
                first = f"Solve for x: {a}x + {b} = {a * x + b}. {rng.choice(SHOW_WORK)}".strip()
                later = ["How do I check it?", f"What if it was {a}x - {b} instead?"]
            elif kind < 0.8:
                q = prompts.question(rng, rng.choice(SCHOOL))
                first = prompts.phrase(rng, q)
                later = [prompts.follow_up(rng, q.y), "Can you give me a simpler explanation?"]
            else:
                about, subject = prompts.concept(rng, rng.choice(SCHOOL))
                first = f"Give me an outline for a 1000-word essay on {about} for my {subject} class."
                later = ["Can you suggest three sources?", "Make the intro stronger."]
            turns = [first, *rng.sample(later, rng.randint(0, len(later)))]
            start = start_time(rng, world.window, day, acct.tz, "student")
            calls += conversation(rng, start, turns, first[:40], params, median_gap=90, completion=350)
    return calls


PROTOTYPES: list[tuple[str, Callable[[random.Random], str]]] = [
    ("You summarise customer reviews in one sentence.", tasks.review),
    ("You turn rough notes into a polite message.", lambda rng: prompts.writing_help(rng)),
    (
        "You suggest a catchy title for a blog post about the topic given.",
        lambda rng: prompts.everyday(rng)[0],
    ),
]


def developer(rng: random.Random, world: World, acct: Account) -> list[Call]:
    calls: list[Call] = []
    for day in active_days(rng, world.window, "office", rng.uniform(0.3, 0.9)):
        start = start_time(rng, world.window, day, acct.tz, "office")
        kind = rng.random()
        if kind < 0.45:  # debugging in a conversation
            turns = [
                tasks.code_question(rng),
                f"Still failing with `{rng.choice(ERRORS)}`.",
                "That fixed it. Add tests?",
            ]
            debug = {"temperature": 0.2, "max_tokens": 4096}
            calls += conversation(
                rng, start, turns[: rng.randint(1, 3)], "the bug", debug, median_gap=240, completion=450
            )
        elif kind < 0.8:  # wiring up an integration: the same probes with parameter variations
            probe = tasks.dev_test_prompt(rng)
            for t in human(rng, start, rng.randint(5, 40), 10):
                params: dict[str, Any] = rng.choice(
                    [
                        {"temperature": 0},
                        {"max_tokens": 16},
                        {"n": 3, "temperature": 1.0},
                        {"logprobs": True, "top_logprobs": 5, "max_tokens": 8},
                        {"response_format": {"type": "json_object"}},
                        {"stream": True},
                    ]
                )
                calls.append(Call(t, user(probe), params, log_normal(rng, 12, 0.8, high=200)))
        else:  # prototyping a feature's system prompt on a handful of inputs
            system, make = rng.choice(PROTOTYPES)
            for t in human(rng, start, rng.randint(5, 25), 25):
                text = make(rng)
                calls.append(
                    Call(
                        t,
                        user(text, system),
                        {"temperature": 0.3, "max_tokens": 256},
                        log_normal(rng, 40, 0.5),
                    )
                )
    return calls


def content_writer(rng: random.Random, world: World, acct: Account) -> list[Call]:
    """A marketing agency's writer drafting long articles for clients, on whatever the clients sell."""
    calls: list[Call] = []
    for day in active_days(rng, world.window, "office", 0.7):
        start = start_time(rng, world.window, day, acct.tz, "office")
        for t in human(rng, start, rng.randint(3, 30), 240):
            if rng.random() < 0.5:
                about, _ = prompts.concept(rng)
            else:
                about = rng.choice(EVERYDAY[rng.choice(list(EVERYDAY))])
            words = rng.choice([800, 1000, 1200, 1500, 2000])
            text = rng.choice(
                [
                    f"Write a {words}-word SEO blog post about {about}. Use H2 headings and end with an FAQ.",
                    f"Draft a newsletter article on {about} for a general audience, about {words} words.",
                    f"Write a detailed guide to {about} for beginners. Friendly tone, {words} words.",
                    f"Outline and then write a long-form article about {about}.",
                ]
            )
            calls.append(
                Call(
                    t,
                    user(text),
                    {"temperature": 0.9, "max_tokens": 4096},
                    log_normal(rng, 1400, 0.35, high=4096),
                )
            )
    return calls
