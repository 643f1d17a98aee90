"""One request's worth of text per domain: a prompt and a plausible synthetic reply.

Each generator takes a `random.Random` and returns a `Task`: the user's prompt, a short reply, worked
`steps` (for replies that show their reasoning) and the bare `answer`. `DOMAINS` maps names to them.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import NamedTuple

from distillab.detect.simulate import text as t
from distillab.detect.simulate import words
from distillab.detect.simulate.text import between, pick


class Task(NamedTuple):
    prompt: str
    reply: str
    steps: tuple[str, ...]
    answer: str


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


def math(r: Random) -> Task:
    kind = int(r.random() * 6)
    name = pick(r, words.NAMES)
    if kind == 0:
        a, p = between(r, 2, 12), between(r, 2, 15)
        bill = next(b for b in (10, 20, 50, 100, 200) if b > a * p)
        steps = (f"{a} x ${p} = ${a * p}", f"${bill} - ${a * p} = ${bill - a * p}")
        q = (
            f"{name} buys {a} notebooks at ${p} each and pays with a ${bill} note. "
            f"How much change does {name} get?"
        )
        return Task(q, f"{name} gets ${bill - a * p} in change.", steps, f"${bill - a * p}")
    if kind == 1:
        speed, hours = between(r, 30, 120), between(r, 2, 9)
        q = f"A train travels {speed * hours} km in {hours} hours. What is its average speed?"
        return Task(
            q,
            f"The average speed is {speed} km/h.",
            ("speed = distance / time", f"{speed * hours} / {hours} = {speed}"),
            f"{speed} km/h",
        )
    if kind == 2:
        price, pct = between(r, 2, 40) * 5, pick(r, (10, 15, 20, 25, 30, 40))
        off = price * pct / 100
        q = f"A jacket costs ${price} and is discounted by {pct}%. What is the sale price?"
        return Task(
            q,
            f"The sale price is ${price - off:g}.",
            (f"{pct}% of ${price} = ${off:g}", f"${price} - ${off:g} = ${price - off:g}"),
            f"${price - off:g}",
        )
    if kind == 3:
        w, length = between(r, 3, 30), between(r, 3, 40)
        q = f"A rectangular garden is {w} m wide and {length} m long. What are its area and perimeter?"
        return Task(
            q,
            f"Area {w * length} m², perimeter {2 * (w + length)} m.",
            (
                f"area = {w} x {length} = {w * length}",
                f"perimeter = 2 x ({w} + {length}) = {2 * (w + length)}",
            ),
            f"{w * length} m², {2 * (w + length)} m",
        )
    if kind == 4:
        x, a, b = between(r, -9, 20), between(r, 2, 9), between(r, 1, 30)
        q = f"Solve for x: {a}x + {b} = {a * x + b}"
        return Task(q, f"x = {x}", (f"subtract {b}: {a}x = {a * x}", f"divide by {a}: x = {x}"), f"x = {x}")
    n1, d1 = pick(r, (2, 3, 4, 6)), pick(r, (6, 8, 12, 24))
    n2 = pick(r, [k for k in (2, 3, 4, 6, 8, 12) if k != n1 and (n1 * d1) % k == 0])
    q = f"If {n1} workers can paint a house in {d1} days, how many days would {n2} workers need?"
    return Task(
        q,
        f"{n1 * d1 // n2} days.",
        (f"total work = {n1} x {d1} = {n1 * d1} worker-days", f"{n1 * d1} / {n2} = {n1 * d1 // n2}"),
        f"{n1 * d1 // n2} days",
    )


def translation(r: Random) -> Task:
    lang = pick(r, words.LANGUAGES)
    sentence = pick(r, words.EVERYDAY_SENTENCES) if r.random() < 0.6 else pick(r, t.corpus().sentences)
    prompt = pick(
        r,
        (
            f'Translate into {lang}: "{sentence}"',
            f'How do you say "{sentence}" in {lang}?',
            f"{lang} please: {sentence}",
        ),
    )
    return Task(prompt, f'In {lang}: "{sentence}" (a natural, slightly informal rendering).', (), sentence)


def summarise(r: Random) -> Task:
    _, doc = pick(r, t.corpus().documents)
    k = between(r, 1, 3)
    prompt = pick(
        r,
        (
            f"Summarise this in {k} sentence{'s' * (k > 1)}:\n\n{doc}",
            f"TL;DR please:\n\n{doc}",
            f"Can you give me the gist of this paragraph?\n\n{doc}",
        ),
    )
    first = doc.split(". ")[0].rstrip(".")
    return Task(prompt, f"In short: {first}.", (), first)


def trivia(r: Random) -> Task:
    q, a = pick(r, words.TRIVIA)
    prompt = pick(r, (q, q.lower(), f"Quick question: {q}", f"{q} Just the answer please."))
    return Task(prompt, f"{a[0].upper()}{a[1:]}.", (), a)


def support(r: Random) -> Task:
    kind = int(r.random() * 4)
    order = f"#{between(r, 100000, 999999)}"
    if kind == 0:
        q = f"Hi, my order {order} hasn't arrived yet and it's been {between(r, 5, 20)} days. Can you help?"
        a = (
            f"I'm sorry your order {order} is late. "
            "I've checked it: it is with the carrier and should arrive soon."
        )
    elif kind == 1:
        app = pick(r, words.APPS)
        q = f"How do I reset my password on the {app} app?"
        a = (
            f"Open the {app} app, tap 'Forgot password' on the sign-in screen "
            "and follow the link we email you."
        )
    elif kind == 2:
        plan = pick(r, words.PLANS)
        q = f"I was charged twice for my {plan} subscription this month. Can I get a refund?"
        a = (
            f"Sorry about the double charge on your {plan} plan. "
            "I've requested a refund of the duplicate payment."
        )
    else:
        product = pick(r, words.PRODUCTS)
        q = (
            f"The {product} I bought {between(r, 2, 14)} months ago stopped working. "
            "Is it covered by the warranty?"
        )
        a = (
            f"Yes, the {product} has a two-year warranty. "
            "Reply with your order number and we'll arrange a repair."
        )
    return Task(q, a, (), a)


def pick_document(r: Random) -> tuple[str, str]:
    """A short document: one or two consecutive docstring paragraphs with the same title."""
    docs = t.corpus().documents
    i = int(r.random() * len(docs))
    title, doc = docs[i]
    if i + 1 < len(docs) and docs[i + 1][0] == title and r.random() < 0.5:
        doc += "\n\n" + docs[i + 1][1]
    return title, doc


def doc_question(r: Random, doc: str, terms: list[str]) -> Task:
    """A question about `doc` (which the caller puts in the prompt once, at the start of a chat), maybe
    about one of its `terms` (`text.terms(doc)`)."""
    found = terms or ["it"]
    term = pick(r, found[:12])
    sentence = next((s for s in doc.split(". ") if term in s), doc.split(". ")[0]).rstrip(".")
    q = pick(
        r,
        (
            f"What does the text say about {term}?",
            f"According to the document, what is {term} for?",
            "Summarise the main point of this text in one sentence.",
            "What are the key terms mentioned here?",
            f"Is there anything about {term}? Quote the relevant sentence.",
            f"Explain the part about {term} in simpler words.",
        ),
    )
    return Task(q, f'The document says: "{sentence}."', (), sentence)


DOMAINS: dict[str, Callable[[Random], Task]] = {
    "coding": coding,
    "chat": chat,
    "math": math,
    "translation": translation,
    "summarise": summarise,
    "trivia": trivia,
    "support": support,
}


def cot_reply(task: Task, r: Random) -> str:
    """A long, step-by-step reply: what a chain-of-thought prompt gets back."""
    steps = task.steps or (
        "Restate what is being asked.",
        "Recall what is relevant to it.",
        "Check the candidate answer against the question.",
    )
    lines = [
        pick(
            r, ("Let's think step by step.", "Let's work through this carefully.", "Step-by-step reasoning:")
        )
    ]
    for i, step in enumerate(steps, 1):
        lines.append(
            f"Step {i}: {step.rstrip('.')}. "
            + pick(
                r,
                (
                    "This follows directly from the question.",
                    "Writing it out keeps the numbers straight.",
                    "Nothing else is needed for this step.",
                    "We double-check this before moving on.",
                ),
            )
        )
    lines.append("Checking: the result is consistent with every condition in the question.")
    lines.append(f"Final answer: {task.answer}")
    return "\n\n".join(lines)
