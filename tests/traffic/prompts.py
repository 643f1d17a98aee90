"""Everyday and knowledge prompts: question frames, paraphrases, follow-ups, word problems, and short
stand-ins for earlier assistant turns. Every builder takes a `random.Random` and returns text."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .vocab import EVERYDAY, FIRST_NAMES, ITEMS, SUBJECTS

# Knowledge questions: intent -> ways people phrase it ({x}, {y}: concepts; {subject}: their subject).
FRAMES: dict[str, list[str]] = {
    "explain": [
        "Can you explain {x}?",
        "How does {x} work?",
        "What is {x}, in simple terms?",
        "I keep hearing about {x}. What is it exactly?",
        "Give me an overview of {x}.",
        "Help me understand {x}.",
        "What's the main idea behind {x}?",
        "Explain {x} to someone new to {subject}.",
    ],
    "compare": [
        "What is the difference between {x} and {y}?",
        "Compare {x} and {y}.",
        "How do {x} and {y} differ?",
        "{x} vs {y}: when does each one matter?",
        "Are {x} and {y} related? How?",
    ],
    "example": [
        "Give me a real-world example of {x}.",
        "What's a good example of {x}?",
        "Can you illustrate {x} with a concrete case?",
        "Show me an everyday situation where {x} shows up.",
    ],
    "why": [
        "Why does {x} matter?",
        "Why is {x} important in {subject}?",
        "What problem does {x} solve?",
        "Why do people in {subject} care so much about {x}?",
    ],
    "mistakes": [
        "What are common misconceptions about {x}?",
        "What do beginners usually get wrong about {x}?",
        "Which mistakes should I avoid when dealing with {x}?",
    ],
    "history": [
        "Who came up with {x}, and how?",
        "How did the idea of {x} develop over time?",
        "What's the history of {x}?",
    ],
    "apply": [
        "How is {x} used in practice?",
        "Where would I run into {x} in real work?",
        "How do professionals in {subject} apply {x}?",
    ],
}

EVERYDAY_FRAMES: dict[str, list[str]] = {
    "cooking": [
        "Can you give me a recipe for {x}?",
        "What's the easiest way to make {x}?",
        "I want to make {x} tonight but I'm out of eggs. Any ideas?",
        "How long does {x} keep in the fridge?",
    ],
    "travel": [
        "What should I see in {x}?",
        "Plan a three-day itinerary for {x}.",
        "Is {x} worth visiting in November?",
        "What's the cheapest way to get around {x}?",
    ],
    "fitness": ["Can you suggest {x}?", "I'm starting {x}. Any tips?", "Is {x} safe if I'm over 50?"],
    "money": ["How should I approach {x}?", "Help me think through {x}.", "What's a sensible plan for {x}?"],
    "home": ["How do I fix {x}?", "What do I need for {x}?", "Should I call a professional about {x}?"],
    "garden": ["What should I do about {x}?", "Any advice on {x}?", "How do I get started with {x}?"],
    "pets": ["Help! What do I do about {x}?", "Any advice on {x}?", "Is {x} normal?"],
    "tech help": ["How do I deal with {x}?", "Troubleshoot {x} for me.", "What's the fix for {x}?"],
    "work": ["How should I handle {x}?", "Give me advice on {x}.", "What should I say when {x} comes up?"],
    "family": ["Any tips for {x}?", "How do other parents handle {x}?", "What should I try with {x}?"],
    "entertainment": ["Can you recommend {x}?", "I'm looking for {x}. Ideas?", "Suggest {x}, please."],
    "shopping": ["What should I look for in {x}?", "Recommend {x} under $100.", "Help me choose {x}."],
}

CONTEXT = [
    "",
    "",
    "",
    " I'm on a tight budget.",
    " It's for two people.",
    " I have two small kids.",
    " I'm a complete beginner.",
    " I only have about an hour.",
    " We're in a small apartment.",
    " Please keep it short.",
]

OPENERS = [
    "",
    "",
    "",
    "",
    "Hi! ",
    "Hey, ",
    "Quick question: ",
    "Hello. ",
    "ok so ",
    "Sorry if this is basic, ",
]
CLOSERS = ["", "", "", "", " Thanks!", " Thank you.", " Keep it brief.", " Please be detailed.", " thx"]

FOLLOW_UPS = [
    "Can you make that shorter?",
    "Could you give an example?",
    "Why is that?",
    "What would you do in my situation?",
    "Thanks. And what about {y}?",
    "Can you put that in a table?",
    "Hmm, that didn't work. Any other ideas?",
    "How long would that take?",
    "Is there a cheaper option?",
    "Can you explain the second point again?",
    "ok and how does that compare to {y}?",
    "Great, can you turn that into a checklist?",
]


@dataclass(frozen=True)
class Question:
    """What a question asks, apart from its wording: paraphrases keep this and change the frame."""

    intent: str
    x: str
    y: str
    subject: str


def concept(rng: random.Random, subject: str | None = None) -> tuple[str, str]:
    """A (concept, subject) pair, from `subject` or from any subject."""
    subject = subject or rng.choice(list(SUBJECTS))
    return rng.choice(SUBJECTS[subject]), subject


def question(rng: random.Random, subject: str | None = None, intent: str | None = None) -> Question:
    x, subject = concept(rng, subject)
    y = rng.choice([c for c in SUBJECTS[subject] if c != x])
    return Question(intent or rng.choice(list(FRAMES)), x, y, subject)


def phrase(rng: random.Random, q: Question, *, casual: bool = True) -> str:
    """One wording of `q`; with `casual`, with the openers and closers people add."""
    text = rng.choice(FRAMES[q.intent]).format(x=q.x, y=q.y, subject=q.subject)
    if casual:
        text = rng.choice(OPENERS) + text + rng.choice(CLOSERS)
    return text


def paraphrase(rng: random.Random, q: Question, previous: str) -> str:
    """Another wording of `q` than `previous`, with light word-level changes so no two are identical."""
    for _ in range(8):
        text = phrase(rng, q)
        if text != previous:
            break
    swaps = [
        ("Can you", "Could you"),
        ("What is", "What's"),
        ("explain", "walk me through"),
        ("How", "In what way"),
    ]
    old, new = rng.choice(swaps)
    return text.replace(old, new, 1) if rng.random() < 0.5 else text


def knowledge(rng: random.Random, subject: str | None = None) -> str:
    return phrase(rng, question(rng, subject))


def everyday(rng: random.Random, topic: str | None = None) -> tuple[str, str]:
    """(question, topic): what ordinary users ask day to day."""
    topic = topic or rng.choice(list(EVERYDAY))
    x = rng.choice(EVERYDAY[topic])
    text = rng.choice(EVERYDAY_FRAMES[topic]).format(x=x) + rng.choice(CONTEXT)
    return rng.choice(OPENERS) + text + rng.choice(CLOSERS), topic


def writing_help(rng: random.Random) -> str:
    who = rng.choice(
        ["my landlord", "my manager", "a client", "my child's teacher", "a recruiter", "my neighbour"]
    )
    about = rng.choice(
        [
            "a late payment",
            "taking Friday off",
            "a broken heater",
            "a missed deadline",
            "rescheduling our meeting",
            "a noise complaint",
            "following up on an application",
            "a refund I never received",
        ]
    )
    tone = rng.choice(["polite", "firm but friendly", "short", "formal", "warm"])
    return rng.choice(
        [
            f"Help me write a {tone} email to {who} about {about}.",
            f"Can you draft a {tone} message to {who} regarding {about}?",
            f"Rewrite this to sound more {tone}: 'Hi, about {about}, I need this sorted.' It's for {who}.",
        ]
    )


def follow_up(rng: random.Random, topic_hint: str) -> str:
    return rng.choice(FOLLOW_UPS).format(y=topic_hint)


def reply(rng: random.Random, about: str) -> str:
    """A short stand-in for an earlier assistant turn in a conversation (the log keeps the history)."""
    opening = rng.choice(["Sure!", "Good question.", "Here's an overview.", "Happy to help.", "Of course."])
    points = rng.randint(2, 4)
    body = " ".join(
        f"{i + 1}. {rng.choice(['Start with', 'Consider', 'Keep in mind', 'Look at', 'Avoid rushing'])} "
        f"{rng.choice(['the basics of', 'the cost of', 'the timing of', 'the main risk in'])} {about}."
        for i in range(points)
    )
    return f"{opening} {body} Let me know if you want more detail."


def word_problem(rng: random.Random) -> tuple[str, str]:
    """(an arithmetic word problem, its answer): homework, benchmarks and reasoning harvests."""
    a, b = rng.sample(FIRST_NAMES, 2)
    item = rng.choice(ITEMS)
    n1, n2, k = rng.randint(12, 90), rng.randint(3, 40), rng.randint(2, 6)
    kind = rng.randrange(5)
    if kind == 0:
        total = (n1 + n2) - (n1 + n2) % k
        return (
            f"{a} has {total - n2} {item}. {b} gives {a} {n2} more, and {a} shares them equally among "
            f"{k} friends. How many {item} does each friend get?",
            str(total // k),
        )
    if kind == 1:
        speed, hours = rng.randint(40, 120), rng.randint(2, 7)
        return (
            f"A train travels at {speed} km/h for {hours} hours, then at {speed // 2} km/h for one more "
            f"hour. How far does it travel in total?",
            f"{speed * hours + speed // 2} km",
        )
    if kind == 2:
        price, pct = rng.randint(20, 400), rng.choice([10, 15, 20, 25, 30])
        return (
            f"{a} buys a jacket priced at ${price}. It is on sale for {pct}% off, and then 8% tax is added "
            f"to the sale price. How much does {a} pay?",
            f"${price * (100 - pct) / 100 * 1.08:.2f}",
        )
    if kind == 3:
        w, h = rng.randint(3, 15), rng.randint(3, 15)
        return (
            f"A rectangular garden is {w} m by {h} m. {a} puts a path 1 m wide around the outside. "
            f"What is the area of the path?",
            f"{(w + 2) * (h + 2) - w * h} square metres",
        )
    age = rng.randint(5, 15)
    return (
        f"{a} is {age} years old. {b} is {k} times as old as {a}. How old will {b} be when {a} is "
        f"{age + n2} years old?",
        str(age * k + n2),
    )
