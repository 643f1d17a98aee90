"""Prompt generators of distillation campaigns: systematic coverage of a task space, not conversation.

- `Sweep`: every domain in turn, one single-turn task each (broad capability coverage);
- `Grid`: a few templates x slot fillers, enumerated in order;
- `Paraphrases`: one question set asked again and again in reworded forms;
- `elicit_cot`: wraps a prompt so the reply shows its reasoning.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from random import Random

from distillab.detect.simulate import tasks, words
from distillab.detect.simulate.domains import DOMAINS
from distillab.detect.simulate.text import pick

COT_PHRASES = (
    "Think step by step.",
    "Let's think step by step.",
    "Show your reasoning before the final answer.",
    "Explain each step of your reasoning.",
    "Reason carefully and show all intermediate steps.",
    "Walk through your thinking in detail, then give the answer on the last line.",
)
COT_SYSTEMS = (
    "You are a careful reasoner. Always explain your reasoning step by step before answering.",
    "Think through every problem out loud, numbering each step, and end with 'Final answer:'.",
)


class Sweep:
    """Round-robin over all domains: the broad, even coverage a distiller wants and a person never has."""

    def __init__(self, r: Random, domains: tuple[str, ...] = tuple(DOMAINS)):
        self.r = r
        self.order = itertools.cycle(domains)

    def __call__(self) -> tasks.Task:
        return DOMAINS[next(self.order)](self.r)


def _grid(r: Random) -> Iterator[tasks.Task]:
    explain = itertools.cycle(itertools.product(words.CONCEPTS, words.FIELDS[:5], words.AUDIENCES))
    code = itertools.cycle(itertools.product(words.LANGS, words.CODE_TASKS))
    translate = itertools.cycle(itertools.product(words.LANGUAGES, words.EVERYDAY_SENTENCES))
    examples = itertools.cycle(itertools.product(("three", "five"), words.CONCEPTS))
    makers: list[Callable[[], tasks.Task]] = [
        lambda: _solve(r),
        lambda: _fill("Explain the concept of {} in {} to {}.", next(explain)),
        lambda: _fill("Write a {} function that can {}. Include comments.", next(code)),
        lambda: _fill("Translate the following sentence into {}: {}", next(translate)),
        lambda: _fill(
            "Give {} examples of {} in everyday life and explain each in one sentence.", next(examples)
        ),
    ]
    while True:
        for make in makers:
            yield make()


def _solve(r: Random) -> tasks.Task:
    task = tasks.math(r)
    return task._replace(prompt=f"Solve step by step: {task.prompt}", reply=tasks.cot_reply(task, r))


def _fill(template: str, slots: tuple[str, ...]) -> tasks.Task:
    prompt = template.format(*slots)
    return tasks.Task(
        prompt,
        f"{prompt.split(':')[0].rstrip('.')}: here is a structured answer, covering the "
        f"definition, an example and the common mistakes.",
        (),
        slots[-1],
    )


class Grid:
    """Templates x slot fillers in a fixed order, round-robin over templates (each product cycles)."""

    def __init__(self, r: Random):
        self.items = _grid(r)

    def __call__(self) -> tasks.Task:
        return next(self.items)


_RULES = [
    (re.compile(p), alternatives)
    for p, alternatives in (
        (
            r"^What is ",
            ("What's ", "Can you tell me what is ", "I'd like to know: what is ", "Please explain what is "),
        ),
        (r"^How do I ", ("What's the best way to ", "How can I ", "How would you ", "Show me how to ")),
        (r"^How can I ", ("How do I ", "What's a good way to ", "Any advice on how to ")),
        (r"^Explain ", ("Describe ", "Clarify ", "Walk me through ")),
        (r"^Write ", ("Compose ", "Draft ", "Produce ")),
        (r"^Can you ", ("Could you ", "Would you ", "Please ")),
        (r"\bbuys\b", ("purchases", "gets")),
        (r"\btravels\b", ("covers", "goes")),
        (r"\baverage\b", ("mean",)),
        (r"\bcosts\b", ("is priced at",)),
        (r"\bideas\b", ("suggestions", "options")),
        (r"\bshort\b", ("brief",)),
        (r"\bdifference\b", ("distinction",)),
        (r"\bfunction\b", ("routine", "helper")),
        (r"\bgood\b", ("nice", "decent")),
        (r"\bhelp\b", ("assist",)),
        (r"\bWhich\b", ("What",)),
        (r"\bdiscounted by\b", ("reduced by", "marked down by")),
    )
]
_WRAPS = (
    ("", ""),
    ("Question: ", ""),
    ("Q: ", ""),
    ("Please answer: ", ""),
    ("", " Thanks!"),
    ("", " Be concise."),
    ("", " Answer briefly."),
    ("Quick question - ", ""),
    ("", " Please be precise."),
)


def paraphrase(r: Random, prompt: str) -> str:
    """The same request in other words: synonym and phrasing rules, each applied with probability 1/2."""
    for pattern, alternatives in _RULES:
        if r.random() < 0.5 and pattern.search(prompt):
            prompt = pattern.sub(pick(r, alternatives), prompt, count=1)
    before, after = pick(r, _WRAPS)
    if before and prompt[:1].isupper() and not prompt[:2].isupper():
        prompt = prompt[0].lower() + prompt[1:]
    return f"{before}{prompt}{after}"


class Paraphrases:
    """A fixed question set, each question asked `repeats` times in different words, in shuffled order."""

    def __init__(self, r: Random, questions: int, repeats: int):
        self.r = r
        sweep = Sweep(r, ("coding", "chat", "math", "trivia", "support"))
        self.base = [sweep() for _ in range(max(1, questions))]
        self.order = [i for i in range(len(self.base)) for _ in range(repeats)]
        r.shuffle(self.order)
        self.i = 0

    def __call__(self) -> tasks.Task:
        task = self.base[self.order[self.i % len(self.order)]]
        self.i += 1
        return task._replace(prompt=paraphrase(self.r, task.prompt))


def elicit_cot(r: Random, task: tasks.Task) -> tasks.Task:
    """Ask for the reasoning (before or after the question); the reply is the long worked version."""
    phrase = pick(r, COT_PHRASES)
    prompt = f"{phrase}\n\n{task.prompt}" if r.random() < 0.3 else f"{task.prompt}\n\n{phrase}"
    return task._replace(prompt=prompt, reply=tasks.cot_reply(task, r))


def continuation(r: Random) -> tuple[str, str]:
    """A raw-completion prompt over real prose (its opening) and the rest of it, for /v1/completions."""
    _, doc = tasks.pick_document(r)
    cut = doc.find(" ", len(doc) // 3)
    return doc[:cut], doc[cut:]
