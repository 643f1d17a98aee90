"""The open-ended request domains: coding help and everyday chat, many templates each; and `DOMAINS`,
every domain's generator by name (the others are in `tasks`).
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

from distillab.detect.simulate import text as t
from distillab.detect.simulate import words
from distillab.detect.simulate.tasks import Task, math, summarise, support, translation, trivia
from distillab.detect.simulate.text import between, pick


def _snake(phrase: str) -> str:
    return "_".join(w for w in phrase.replace("-", " ").split()[:3] if w.isalpha()).lower()


def coding(r: Random) -> Task:
    kind = r.random()
    lang = pick(r, words.LANGS)
    if kind < 0.3:
        task = pick(r, words.CODE_TASKS)
        fn = _snake(task)
        code = (
            f"def {fn}(data):\n"
            "    result = []\n"
            "    for item in data:\n"
            "        result.append(item)\n"
            "    return result"
        )
        prompt = pick(
            r,
            (
                f"How do I {task} in {lang}?",
                f"Write a {lang} function to {task}.",
                f"what's the cleanest way to {task} in {lang}",
                f"Can you show me how to {task}?",
            ),
        )
        return Task(
            prompt,
            f"Here's a simple way to {task}:\n\n```\n{code}\n```\n\nIt walks the input once, so "
            f"it runs in linear time. For large inputs consider a generator instead of a list.",
            (
                f"Define a function {fn} that takes the input.",
                "Loop over the items once.",
                "Collect the results and return them.",
            ),
            fn,
        )
    if kind < 0.55:
        name, summary = pick(r, t.corpus().apis)
        prompt = pick(
            r,
            (
                f"What does `{name}` do in Python?",
                f"Can you explain {name} with an example?",
                f"When should I use {name}?",
            ),
        )
        return Task(
            prompt,
            f"`{name}`: {summary}\n\nA typical use is to call it once with your data and check "
            f"the result; see the standard library documentation for every parameter.",
            (
                f"Look up {name} in the standard library.",
                f"Its documentation says: {summary}",
                "Show a minimal call.",
            ),
            summary,
        )
    if kind < 0.8:
        error, action = pick(r, words.CODE_ERRORS), pick(r, words.CODE_ACTIONS)
        prompt = pick(
            r,
            (
                f"I'm getting `{error}` when I {action}. What am I doing wrong?",
                f"{error}\n\nthis happens every time I {action}, any idea?",
                f'Why would I see "{error}" when I {action}?',
            ),
        )
        return Task(
            prompt,
            f"`{error.split(':')[0]}` usually means the value is not what the code expects at "
            f"that point. Print it just before the failing line, check where it is set, and "
            f"handle the empty case explicitly.",
            (
                "Read the error type and message.",
                "Find the line that raises it.",
                "Check the value at that point and fix its source.",
            ),
            error.split(":")[0],
        )
    a, b = pick(r, words.CODE_PAIRS)
    return Task(
        f"What's the difference between {a} and {b} in {lang}?",
        f"Both work, but {a} and {b} trade off differently: pick {a} when you need the simpler "
        f"behaviour and {b} when you need the other guarantee. In {lang} the idiomatic choice is "
        f"usually the one the standard library uses.",
        (f"Describe {a}.", f"Describe {b}.", "Compare them on one example."),
        a,
    )


def chat(r: Random) -> Task:
    kind = int(r.random() * 8)
    if kind == 0:
        k, occasion = between(r, 3, 7), pick(r, words.OCCASIONS)
        ideas = r.sample(
            (
                "a picnic",
                "a board game night",
                "a short hike",
                "a cooking challenge",
                "a movie marathon",
                "a scavenger hunt",
                "a craft project",
                "a karaoke session",
                "a museum visit",
            ),
            3,
        )
        return Task(
            f"Can you suggest {k} ideas for {occasion}?",
            "Sure! A few ideas:\n"
            + "\n".join(f"{i + 1}. {idea.capitalize()}" for i, idea in enumerate(ideas))
            + "\nPick based on budget and how much time you have.",
            (),
            ideas[0],
        )
    if kind == 1:
        dish, missing = pick(r, words.DISHES), pick(r, words.INGREDIENTS)
        return Task(
            f"What's a good recipe for {dish} without {missing}?",
            f"You can make {dish} without {missing}: swap it for a common substitute, keep the other "
            f"quantities the same and check it a few minutes early.",
            (),
            dish,
        )
    if kind == 2:
        tone, who, topic = pick(r, words.TONES), pick(r, words.RECIPIENTS), pick(r, words.EMAIL_TOPICS)
        name = pick(r, words.NAMES)
        return Task(
            f"Help me write a {tone} email to my {who} about {topic}.",
            f"Subject: About {topic}\n\nHi,\n\nI wanted to get in touch about {topic}. Could we find a "
            f"time this week to sort it out?\n\nThanks,\n{name}",
            (),
            topic,
        )
    if kind == 3:
        genre, subject = pick(r, words.GENRES), pick(r, words.SUBJECTS)
        return Task(
            f"Write a short {genre} about {subject}.",
            f"Here's a short {genre}:\n\nIn quiet hours, {subject} waits,\nwhile the world turns slow;"
            f"\nsmall things become great things\nfor those who stay to know.",
            (),
            subject,
        )
    if kind == 4:
        goal = pick(r, words.GOALS)
        return Task(
            pick(
                r,
                (f"How can I {goal}?", f"any tips to {goal}?", f"I really want to {goal}. Where do I start?"),
            ),
            f"To {goal}, start small: pick one habit, do it at the same time every day for two weeks, "
            f"and track it. Most people fail by changing too much at once.",
            (),
            goal,
        )
    if kind == 5:
        place, month = pick(r, words.PLACES), pick(r, words.MONTHS)
        return Task(
            f"I'm planning a trip to {place} in {month}. What should I pack?",
            f"For {place} in {month}, pack layers, a light rain jacket, comfortable walking shoes and "
            f"an adapter. Check the forecast a few days before you leave.",
            (),
            place,
        )
    if kind == 6:
        concept, audience = pick(r, words.CONCEPTS), pick(r, words.AUDIENCES)
        return Task(
            f"Explain {concept} like I'm {audience}.",
            f"Imagine {concept} as something you already know from daily life: it is a simple rule that, "
            f"repeated many times, adds up to a big effect.",
            (),
            concept,
        )
    choice = pick(r, words.CHOICES)
    return Task(
        f"What are the pros and cons of {choice}?",
        f"Pros of {choice}: flexibility and long-term savings. Cons: upfront cost and some risk. It "
        f"depends on your situation and time horizon.",
        (),
        choice,
    )


DOMAINS: dict[str, Callable[[Random], Task]] = {
    "coding": coding,
    "chat": chat,
    "math": math,
    "translation": translation,
    "summarise": summarise,
    "trivia": trivia,
    "support": support,
}
