"""The tiny world's reasoning task: multi-step arithmetic word problems with worked answers.

A problem is a start amount changed by 2-3 additions or subtractions, told in varied wording:

    prompt: "Mia has 12 apples. She buys 7 more and then gives 5 away. How many apples does she have now?"
    answer: "12 + 7 = 19. 19 - 5 = 14. Answer: 14"
    final:  "14"

Numbers stay small (see START, MAX_OPERAND) so a model of under a million parameters can learn every
step on CPU in minutes, while the text still has to be read (names, objects, verbs and sentence
shapes vary) to know which operation applies. Which split a problem belongs to is a function of its
arithmetic skeleton (start amount and operations), not of the seed, so no test chain ever appears in
train, whatever `n` or `seed` is used.

    from distillab.toy.arith import problems, is_correct
    test = problems("test", 500, seed=0)
    is_correct(model_output_text, test[0])   # True if it ends in "Answer: <the right number>"
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Literal

from distillab.errors import ConfigError

Split = Literal["train", "test"]
TEST_FRACTION = 10
"""One skeleton in TEST_FRACTION goes to the test split."""
START = (10, 50)
MAX_OPERAND = 9
MAX_VALUE = 99
"""Amounts start in START, change by 2..MAX_OPERAND per step and stay in 0..MAX_VALUE: about 1k
distinct one-step facts, few enough for a ~0.7M-parameter model to learn in a few minutes on CPU."""

NAMES = [
    ("Mia", "She"),
    ("Ava", "She"),
    ("Zoe", "She"),
    ("Lena", "She"),
    ("Emma", "She"),
    ("Sofia", "She"),
    ("Leo", "He"),
    ("Omar", "He"),
    ("Ben", "He"),
    ("Raj", "He"),
    ("Theo", "He"),
    ("Noah", "He"),
]
OBJECTS = [
    "apples",
    "marbles",
    "stickers",
    "books",
    "coins",
    "pencils",
    "cookies",
    "shells",
    "cards",
    "stamps",
    "balloons",
    "buttons",
]
INTROS = [
    "{name} has {n} {obj}.",
    "{name} starts the day with {n} {obj}.",
    "There are {n} {obj} in {name}'s bag.",
    "{name} owns {n} {obj}.",
]
ADDS = [
    "buys {n} more",
    "finds {n} more",
    "gets {n} more from a friend",
    "is given {n} more",
    "picks up {n} more",
    "wins {n} more",
]
SUBS = ["gives {n} away", "loses {n}", "sells {n}", "gives {n} to a friend", "uses {n}", "trades away {n}"]
JOINS = ["{a} and then {b}.", "{a}, then {b}.", "{a} and {b}."]
LATER = ["Later, {s} {p}.", "After that, {s} {p}.", "Then {s} {p}.", "{S} {p}."]
QUESTIONS = [
    "How many {obj} does {s} have now?",
    "How many {obj} does {name} have in the end?",
    "How many {obj} does {s} have at the end?",
]


@dataclass(frozen=True)
class Problem:
    """One word problem. `final` is the checkable answer, `answer` the worked solution ending in it."""

    id: str
    prompt: str
    answer: str
    final: str


Step = tuple[str, int]
"""An operation ("+" or "-") and its operand."""


def _skeleton(rng: random.Random) -> tuple[int, list[Step]]:
    """A start amount and 2-3 operations whose running value stays within 0..MAX_VALUE."""
    value = rng.randint(*START)
    start, steps = value, []
    for _ in range(rng.choice([2, 3])):
        room_up, room_down = min(MAX_OPERAND, MAX_VALUE - value), min(MAX_OPERAND, value)
        op = rng.choice("+-")
        if (op == "+" and room_up < 2) or (op == "-" and room_down < 2):
            op = "-" if op == "+" else "+"
        n = rng.randint(2, room_up if op == "+" else room_down)
        value = value + n if op == "+" else value - n
        steps.append((op, n))
    return start, steps


def split_of(start: int, steps: list[Step]) -> Split:
    """The split a skeleton belongs to, from a hash of it, so splits are disjoint for any seed."""
    key = f"{start}|" + "|".join(f"{op}{n}" for op, n in steps)
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return "test" if digest % TEST_FRACTION == 0 else "train"


def _render(rng: random.Random, start: int, steps: list[Step]) -> str:
    name, pronoun = rng.choice(NAMES)
    obj = rng.choice(OBJECTS)
    phrases = [rng.choice(ADDS if op == "+" else SUBS).format(n=n) for op, n in steps]
    sentences = [rng.choice(INTROS).format(name=name, n=start, obj=obj)]
    first = rng.choice([pronoun, name])
    if rng.random() < 0.5:
        sentences.append(f"{first} " + rng.choice(JOINS).format(a=phrases[0], b=phrases[1]))
        rest = phrases[2:]
    else:
        sentences.append(f"{first} {phrases[0]}.")
        rest = phrases[1:]
    for phrase in rest:
        sentences.append(rng.choice(LATER).format(s=pronoun.lower(), S=pronoun, p=phrase))
    sentences.append(rng.choice(QUESTIONS).format(obj=obj, s=pronoun.lower(), name=name))
    return " ".join(sentences)


def worked_answer(start: int, steps: list[Step]) -> tuple[str, str]:
    """The worked solution ("12 + 7 = 19. 19 - 5 = 14. Answer: 14") and the final answer."""
    value, parts = start, []
    for op, n in steps:
        new = value + n if op == "+" else value - n
        parts.append(f"{value} {op} {n} = {new}.")
        value = new
    return " ".join(parts) + f" Answer: {value}", str(value)


def problems(split: Split, n: int, seed: int = 0) -> list[Problem]:
    """`n` distinct problems of `split`, the same for the same (split, n, seed) on every machine."""
    if split not in ("train", "test"):
        raise ConfigError(f"split: expected 'train' or 'test', got {split!r}")
    if n < 0:
        raise ConfigError(f"n: must be >= 0, got {n}")
    rng = random.Random(f"arith-{split}-{seed}")
    out: dict[str, Problem] = {}
    while len(out) < n:
        start, steps = _skeleton(rng)
        if split_of(start, steps) != split:
            continue
        prompt = _render(rng, start, steps)
        answer, final = worked_answer(start, steps)
        pid = "arith-" + hashlib.sha256(prompt.encode()).hexdigest()[:12]
        out.setdefault(pid, Problem(pid, prompt, answer, final))
    return list(out.values())


_ANSWER = re.compile(r"answer\s*(?:is|:)?\s*:?\s*(-?\d+)", re.IGNORECASE)


def extract_answer(text: str) -> str | None:
    """The last "Answer: N" (or "answer is N") in `text`, normalised ("014" -> "14"); None if absent."""
    found = _ANSWER.findall(text)
    return str(int(found[-1])) if found else None


def is_correct(text: str, problem: Problem) -> bool:
    """Whether `text` states the problem's final answer (only the final answer counts, not the steps)."""
    return extract_answer(text) == problem.final
