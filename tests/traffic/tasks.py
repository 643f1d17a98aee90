"""Prompts of systematic honest work: code help, benchmark items, labelling items, text to translate,
and a RAG product's documents and questions."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .prompts import word_problem
from .vocab import (
    CODE_TASKS,
    ERRORS,
    EVERYDAY,
    FEATURES,
    FIRST_NAMES,
    LANGUAGES,
    NAME_HEADS,
    NAME_TAILS,
    PRODUCTS,
    PROGRAMMING,
    SECTORS,
    SUBJECTS,
)


def company_name(rng: random.Random) -> str:
    name = rng.choice(NAME_HEADS) + rng.choice(NAME_TAILS)
    return f"{name} {rng.choice(SECTORS)}" if rng.random() < 0.6 else name


# ---- code ------------------------------------------------------------------------------------------
def snippet(rng: random.Random) -> str:
    name = rng.choice(["items", "rows", "users", "payload", "config", "result", "batch", "records"])
    key = rng.choice(["id", "name", "total", "created_at", "status", "email"])
    lines = [
        f"def load_{name}(path):",
        "    with open(path) as fh:",
        f"        {name} = json.load(fh)",
        f"    return [r['{key}'] for r in {name} if r.get('{key}')]",
    ]
    if rng.random() < 0.5:
        lines += ["", f"print(load_{name}(sys.argv[1])[{rng.randint(0, 9)}])"]
    return "\n".join(lines)


def code_question(rng: random.Random) -> str:
    lang, task = rng.choice(PROGRAMMING), rng.choice(CODE_TASKS)
    kind = rng.randrange(4)
    if kind == 0:
        return f"Write a {lang} function to {task}."
    if kind == 1:
        return f"How do I {task} in {lang}? Show a short example."
    if kind == 2:
        error = rng.choice(ERRORS)
        return f"I'm getting `{error}` when I run this:\n```\n{snippet(rng)}\n```\nWhat's wrong?"
    return f"Review this code and suggest improvements:\n```\n{snippet(rng)}\n```"


def dev_test_prompt(rng: random.Random) -> str:
    """What developers send while wiring an integration: the same few probes, again and again."""
    name, age = rng.choice(FIRST_NAMES), rng.randint(18, 80)
    return rng.choice(
        [
            "Say hello.",
            "Reply with the single word OK.",
            "test",
            f"Return a JSON object with fields name and age for: {name}, {age}",
            "Summarise the following in one sentence: The meeting moved to Thursday at 3pm in room B.",
            "What model are you?",
            "Count from 1 to 5.",
        ]
    )


# ---- benchmarks ------------------------------------------------------------------------------------
MCQ_STYLES = [
    "The following is a multiple choice question about {subject}.\n\n{stem}\n{options}\nAnswer:",
    "Question: {stem}\nChoices:\n{options}\nAnswer with the letter only.",
    "{stem}\n\n{options}\n\nThe correct answer is",
]
REASONING_STYLES = [
    "Q: {problem}\nA: Let's think step by step.",
    "Solve the following math problem. Show your reasoning, then give the final answer after 'Answer:'.\n\n"
    "{problem}",
    "{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
]


def mcq_bank(seed: int, size: int, style: int) -> list[str]:
    """A public multiple-choice benchmark: the same items for every account that runs it, wrapped in the
    prompt format of the account's harness (`style`: an index into MCQ_STYLES)."""
    rng = random.Random(f"mcq-bank:{seed}")
    subjects = list(SUBJECTS)
    items = []
    for i in range(size):
        subject = subjects[i % len(subjects)]
        options: list[object]
        if rng.random() < 0.25:
            a, b = rng.randint(11, 99), rng.randint(11, 99)
            options = [a * b, a * b + rng.randint(1, 9), a * b - rng.randint(1, 9), (a + 1) * b]
            stem = f"What is {a} x {b}?"
        else:
            others = rng.sample([s for s in subjects if s != subject], 3)
            options = [rng.choice(SUBJECTS[subject]), *(rng.choice(SUBJECTS[o]) for o in others)]
            stem = f"Which of the following is a topic of {subject}?"
        rng.shuffle(options)
        lines = "\n".join(f"{letter}. {option}" for letter, option in zip("ABCD", options))
        items.append(MCQ_STYLES[style].format(subject=subject, stem=stem, options=lines))
    return items


def reasoning_bank(seed: int, size: int, style: int) -> list[str]:
    """A public grade-school maths benchmark, in one of the usual reasoning prompt formats."""
    rng = random.Random(f"reasoning-bank:{seed}")
    return [REASONING_STYLES[style].format(problem=word_problem(rng)[0]) for _ in range(size)]


# ---- labelling -------------------------------------------------------------------------------------
def review(rng: random.Random) -> str:
    product = rng.choice(PRODUCTS)
    good = ["works perfectly", "exceeded my expectations", "is great value", "arrived quickly", "feels solid"]
    bad = ["broke after a week", "is overpriced", "stopped charging", "smells strange", "is too loud"]
    meh = ["does the job", "is fine I guess", "looks smaller than in the photos", "took a while to arrive"]
    parts = rng.sample(good + bad + meh, 2)
    verdict = rng.choice(["", " Would buy again.", " Returning it.", " Meh."])
    return f"This {product} {parts[0]}, and it {parts[1]}.{verdict}"


def label_item(rng: random.Random, scheme: str) -> tuple[str, dict[str, Any]]:
    """(prompt, params) for one item of a labelling job under `scheme`."""
    if scheme == "sentiment":
        text = (
            "Classify the sentiment of this review as positive, negative or neutral.\n"
            f"Review: {review(rng)}\nLabel:"
        )
        return text, {"temperature": 0, "max_tokens": 3}
    if scheme == "routing":
        ask = rng.choice(
            [
                "I was charged twice this month",
                "the app crashes when I upload a photo",
                "how do I change my email address",
                "my parcel has not arrived",
                "can I get an invoice with my VAT number",
                f"{rng.choice(FEATURES)} is not working since yesterday",
            ]
        )
        text = (
            "Route this support ticket to one of: billing, technical, account, shipping.\n"
            f"Ticket #{rng.randint(10000, 99999)}: {ask}\nCategory:"
        )
        return text, {"temperature": 0, "max_tokens": 2, "logprobs": True, "top_logprobs": 4}
    if scheme == "topic":
        subject = rng.choice(list(SUBJECTS))
        text = (
            "Which subject does this passage belong to? Answer with one subject name.\n"
            f"Passage: Today we look at {rng.choice(SUBJECTS[subject])} and why it matters.\nSubject:"
        )
        return text, {"temperature": 0, "max_tokens": 4}
    topic = rng.choice(list(EVERYDAY))
    thing = rng.choice(EVERYDAY[topic])
    text = (
        "Which response answers the user better? Reply with A or B only.\n"
        f"User: any tips for {thing}?\n"
        f"Response A: Try {rng.choice(['a simple plan', 'asking a friend', 'reading a guide'])}.\n"
        f"Response B: It depends; start with {rng.choice(['the basics', 'a budget', 'a checklist'])} and "
        "adjust.\nAnswer:"
    )
    return text, {"temperature": 0, "max_tokens": 1}


# ---- translation -----------------------------------------------------------------------------------
SENTENCES = [
    "Could you send me the {doc} before {day}?",
    "The {place} opens at {hour} on weekdays and closes early on Sundays.",
    "We are sorry, your order of {product} will arrive two days late.",
    "My flight to {city} was cancelled, so I will join the meeting online.",
    "Please remember to bring your passport and a printed copy of the {doc}.",
    "I loved the {product}, but the instructions were hard to follow.",
    "The recipe for {food} needs two cups of flour and a pinch of salt.",
    "Our team will review the {doc} and reply by {day}.",
    "Is there a pharmacy near the {place} that is open late?",
    "Thank you for your patience while we fix the problem with {feature}.",
]


class _Fill(dict[str, str]):
    """Fills a sentence template's slots on demand, drawing only the slots the template has."""

    POOLS = {
        "doc": ["contract", "invoice", "agenda", "report", "booking confirmation"],
        "day": ["Monday", "Friday", "the end of the month", "tomorrow"],
        "place": ["museum", "station", "library", "market", "town hall"],
        "hour": ["8 am", "9:30", "10 o'clock", "noon"],
        "product": PRODUCTS,
        "city": EVERYDAY["travel"],
        "food": EVERYDAY["cooking"],
        "feature": FEATURES,
    }

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> str:
        return self.rng.choice(self.POOLS[key])


TRANSLATE_STYLES = [
    "Translate the following text from {source} to {target}. Keep the tone.\n\n{text}",
    "Translate into {target}:\n{text}",
    "{source} -> {target}\n{text}",
    "You are a professional translator. Translate this {source} text into natural {target}. Output only "
    "the translation.\n\n{text}",
]


def translation_text(rng: random.Random) -> str:
    return " ".join(rng.choice(SENTENCES).format_map(_Fill(rng)) for _ in range(rng.randint(1, 4)))


def language_pair(rng: random.Random) -> tuple[str, str]:
    source, target = rng.sample(LANGUAGES, 2)
    return (source, target) if rng.random() < 0.5 else ("English", target if target != "English" else source)


# ---- RAG -------------------------------------------------------------------------------------------
RAG_LAYOUTS = [
    "Context:\n{context}\n\nQuestion: {question}",
    "Use only these documents to answer.\n<documents>\n{context}\n</documents>\n\nUser question: {question}",
    "{question}\n\nRelevant help articles:\n{context}",
    "### Knowledge base\n{context}\n\n### Customer message\n{question}\n\n### Reply",
    "Sources (cite the article number you use):\n{context}\n\nCustomer asks: {question}",
]
CHUNK_HEADS = [
    "[{company} Help Centre, article {n}]",
    "Doc {n} ({company} docs):",
    '<article id="{n}">',
    "KB-{n} |",
]
RAG_SYSTEMS = [
    "You are the support assistant for {company}. Answer only from the context. If unsure, say so.",
    "You help {company} customers. Be brief and friendly; never invent features.",
    "Answer as {company} Support. If the documents do not cover it, offer to open a ticket.",
]


@dataclass(frozen=True)
class RagApp:
    """One company's RAG integration: its help-centre chunks and the prompt layout its developers chose."""

    company: str
    chunks: list[str]
    layout: str
    system: str


def rag_app(rng: random.Random, size: int) -> RagApp:
    company = company_name(rng)
    head = rng.choice(CHUNK_HEADS)
    chunks = []
    for i in range(size):
        feature = rng.choice(FEATURES)
        menu = rng.choice(["Security", "Billing", "Workspace", "Integrations"])
        who = rng.choice(["admins", "owners", "members with edit rights"])
        fix = rng.choice(["sign out and back in", "clear the cache", "check your plan", "contact support"])
        plan = rng.choice(["Starter", "Team", "Enterprise"])
        chunks.append(
            f"{head.format(company=company, n=1000 + i)} {feature.capitalize()}: to change it, open "
            f"Settings, then {menu}. Only {who} can do this. If {feature} fails, {fix}; changes take up to "
            f"{rng.randint(2, 30)} minutes to apply. Plans: {plan} and above. "
            f"Last updated {rng.randint(1, 28)}/{rng.randint(1, 12)}/2025."
        )
    return RagApp(company, chunks, rng.choice(RAG_LAYOUTS), rng.choice(RAG_SYSTEMS).format(company=company))


def rag_question(rng: random.Random, company: str) -> str:
    feature = rng.choice(FEATURES)
    return rng.choice(
        [
            f"How do I turn on {feature}?",
            f"Why is {feature} not working for me?",
            f"who can change {feature} in {company}",
            f"Is {feature} included in my plan?",
            f"{feature} broken again??",
            f"How long until changes to {feature} apply?",
        ]
    )
