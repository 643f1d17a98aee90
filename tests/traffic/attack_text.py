"""Prompts of distillation campaigns, after public descriptions of them (Anthropic, Feb 2026; Google
Threat Intelligence, Feb 2026): expert-persona task prompts repeated with the same structure across
accounts, reasoning elicitation ("write out the internal reasoning step by step"), rubric grading as a
reward signal, instruction-dataset prompts, rewrite requests for data augmentation, and agentic coding
traces with tool calls. Non-English answers are asked for now and then (Google saw many)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .prompts import Question, phrase, question, word_problem
from .tasks import code_question
from .vocab import CODE_TASKS, LANGUAGES, PROGRAMMING, QUALITIES, ROLES, SUBJECTS

REASONING = [
    "Think step by step and show your full reasoning before the final answer.",
    "Explain each step of your reasoning.",
    "Show your full chain of thought, then give the answer on its own line.",
    "Reason through every intermediate step; do not skip any.",
    "Before answering, lay out your reasoning in numbered steps.",
    "Walk through the problem step by step, checking each step before moving on.",
    "Write out your complete thought process, including the options you rejected and why.",
]

TASK_KINDS = ["analyse", "derive", "critique", "teach", "solve"]


@dataclass(frozen=True)
class Item:
    """One cell of a campaign's task space: a subject, a concept in it, and what to do with it."""

    subject: str
    concept: str
    kind: str


def task_space() -> list[Item]:
    """Every (subject, concept, task kind): what a broad, systematic harvest walks through."""
    return [Item(s, c, k) for s, concepts in SUBJECTS.items() for c in concepts for k in TASK_KINDS]


def expert_prompt(rng: random.Random, item: Item, *, reasoning: bool = True) -> str:
    """The same scaffold every time, with the task in the middle (how campaign prompts were described)."""
    role, quality = rng.choice(ROLES), rng.choice(QUALITIES)
    if rng.random() < 0.5:
        role = f"{item.subject} {rng.choice(['researcher', 'educator', 'analyst', 'consultant'])}"
    task = {
        "analyse": f"Analyse {item.concept} in depth: its assumptions, mechanisms and limits.",
        "derive": f"Derive the key results of {item.concept} from first principles.",
        "critique": f"Give the strongest critique of the standard account of {item.concept}, then answer it.",
        "teach": f"Write a complete lesson on {item.concept} for an advanced {item.subject} student.",
        "solve": f"Pose a hard problem about {item.concept} and solve it completely.",
    }[item.kind]
    text = f"You are an expert {role} combining {quality} with deep domain knowledge. {task}"
    if reasoning:
        text += " " + rng.choice(REASONING)
    if rng.random() < 0.12:
        text += f" Answer in {rng.choice(LANGUAGES)}."
    return text


def reconstruct_reasoning(rng: random.Random) -> str:
    problem, answer = word_problem(rng)
    return (
        f"Here is a question and its final answer.\nQuestion: {problem}\nFinal answer: {answer}\n"
        "Imagine and articulate the internal reasoning that led to this answer, and write it out step "
        "by step."
    )


def rubric_grade(rng: random.Random) -> str:
    q = question(rng)
    return (
        "Grade the response below against the rubric. Rubric: (1) factual accuracy, (2) completeness, "
        "(3) clarity, (4) reasoning quality. Score each criterion from 1 to 10 and justify every score "
        f"in detail.\nQuestion: {phrase(rng, q, casual=False)}\nResponse: {q.x} is mainly about "
        f"{q.y}; it was first described in the {rng.choice(['1800s', '1950s', '1970s'])}."
    )


def instruction(rng: random.Random) -> str:
    """An instruction-tuning style prompt over any topic (what log-probability harvesters send)."""
    q = question(rng)
    return rng.choice(
        [
            f"Write a short paragraph about {q.x}.",
            f"List three facts about {q.x}.",
            f"Explain {q.x} to a ten-year-old.",
            f"Write a quiz question about {q.x} with its answer.",
            f"Summarise what is known about {q.x} in {q.subject}.",
            f"Continue the text: '{q.x.capitalize()} is often misunderstood because'",
            phrase(rng, q, casual=False),
            code_question(rng),
        ]
    )


def rewrite_request(rng: random.Random, seed_question: str, count: int) -> str:
    return rng.choice(
        [
            f"Rewrite the following question in {count} different ways, keeping its meaning:\n"
            f"{seed_question}",
            f"Give {count} paraphrases of this question, one per line:\n{seed_question}",
            f"Generate {count} varied versions of this question for a dataset (vary wording and order):\n"
            f"{seed_question}",
        ]
    )


def rewrite(rng: random.Random, q: Question) -> str:
    """A rewrite the teacher could have returned: the question in other words."""
    head = rng.choice(["", "In other words: ", "Put differently, ", "Rephrased: ", ""])
    return head + phrase(rng, q, casual=False)


def deep_answer_request(rng: random.Random, text: str) -> str:
    return rng.choice(
        [
            f"{text}\nAnswer in depth and explain each step.",
            f"{text}\nGive a thorough, expert answer; show your reasoning step by step.",
            f"Question: {text}\nProvide a detailed answer with a worked explanation.",
        ]
    )


TOOLS = (
    "You are an autonomous software engineering agent. Tools: read_file(path), search(query), "
    "run_tests(pattern), apply_patch(diff). Call one tool per turn as JSON; finish with a summary."
)


def agent_task(rng: random.Random) -> str:
    lang, task = rng.choice(PROGRAMMING), rng.choice(CODE_TASKS)
    repo = f"{rng.choice(['acme', 'orbit', 'tidal', 'quartz'])}-{rng.choice(['api', 'etl', 'web', 'cli'])}"
    return rng.choice(
        [
            f"In the {lang} repository {repo}, add code to {task} and make the tests pass.",
            f"Issue #{rng.randint(100, 9999)} in {repo}: the job that should {task} fails intermittently. "
            "Find the cause and fix it.",
            f"Refactor {repo} so that the module that needs to {task} has full test coverage.",
        ]
    )


def agent_messages(rng: random.Random) -> list[dict[str, str]]:
    """An agent loop: a task, then zero or more (tool call, tool result) rounds; the newest turn is the
    task or a tool result, and the teacher is asked for the next step."""
    messages = [{"role": "system", "content": TOOLS}, {"role": "user", "content": agent_task(rng)}]
    for step in range(rng.choice([0, 0, 1, 2, 3])):
        package, module = rng.choice(["jobs", "core", "util", "api"]), rng.choice(["runner", "io", "retry"])
        path = f"src/{package}/{module}.py"
        call = rng.choice(
            [
                f'{{"tool": "read_file", "path": "{path}"}}',
                f'{{"tool": "run_tests", "pattern": "test_{rng.choice(["io", "retry", "api"])}"}}',
                f'{{"tool": "search", "query": "{rng.choice(["timeout", "retry", "TODO", "cursor"])}"}}',
            ]
        )
        result = rng.choice(
            [
                f"{rng.randint(3, 40)} passed, {rng.randint(1, 4)} failed: AssertionError in test_{step}",
                f"def run(batch):\n    for row in batch:\n        handle(row)  # line {rng.randint(10, 300)}",
                f"{rng.randint(1, 9)} matches in {path}",
            ]
        )
        messages += [{"role": "assistant", "content": call}, {"role": "tool", "content": result}]
    return messages


def code_harvest(rng: random.Random) -> str:
    """A coding task with the reasoning cue (a campaign after coding ability)."""
    return f"{code_question(rng)} {rng.choice(REASONING)}"


def solve_with_reasoning(rng: random.Random) -> str:
    return f"{word_problem(rng)[0]} {rng.choice(REASONING)}"
