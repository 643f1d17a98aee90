"""One request's worth of text per domain: a prompt and a plausible synthetic reply.

Each generator takes a `random.Random` and returns a `Task`: the user's prompt, a short reply, worked
`steps` (for replies that show their reasoning) and the bare `answer`. Here: the domains with one
worked problem, fact, sentence or document each (math, trivia, support, translation, summarising,
questions about a document) and `cot_reply`; the open-ended ones (coding, chat) and `DOMAINS`, every
domain by name, are in `domains`.
"""

from __future__ import annotations

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
