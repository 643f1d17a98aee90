"""Honest high-volume, systematic traffic: teams running public benchmarks and data-labelling companies.

Both are hard negatives for a distillation detector: templated prompts at high volume, temperature 0,
scripted timing, SDK user agents from cloud addresses, and (benchmarks) log-probabilities.
"""

from __future__ import annotations

from random import Random

from distillab.detect.simulate import tasks, words
from distillab.detect.simulate import text as t
from distillab.detect.simulate.actor import COMPLETIONS, Actor, Request, chat_request, user
from distillab.detect.simulate.identity import MODELS
from distillab.detect.simulate.text import between, pick

_MC_PREFIX = "The following are multiple choice questions (with answers) about {subject}.\n\n"
_MATH_PREFIX = (
    'Solve the following grade-school math problems. Show your work and end with "The answer is X."\n\n'
)
_QA_PREFIX = "Answer the question with a short phrase, no explanation.\n\n"
SUBJECTS = (
    "general knowledge",
    "elementary mathematics",
    "world history",
    "high school physics",
    "geography",
)


def _choices(r: Random, answer: str, pool: list[str]) -> tuple[list[str], int]:
    options = r.sample([p for p in pool if p != answer], 3) + [answer]
    r.shuffle(options)
    return options, options.index(answer)


def _mc_item(r: Random, task: tasks.Task, pool: list[str]) -> tuple[str, str]:
    options, right = _choices(r, task.answer, pool)
    lines = [task.prompt] + [f"{'ABCD'[i]}. {o}" for i, o in enumerate(options)] + ["Answer:"]
    return "\n".join(lines), "ABCD"[right]


def _trivia(r: Random) -> tasks.Task:
    q, a = pick(r, words.TRIVIA)
    return tasks.Task(q, a, (), a)


def _api_question(r: Random) -> tasks.Task:
    name, summary = pick(r, t.corpus().apis)
    return tasks.Task(f'Which Python standard library callable is described by: "{summary}"?', name, (), name)


class Benchmark(Actor):
    """Runs one fixed benchmark (a few-shot prefix + each item, in order) again and again, for both
    models."""

    def setup(self, size: int) -> None:
        r = self.r
        self.suite = pick(r, ("mc", "math", "qa"))
        self.completions = self.suite == "mc" and r.random() < 0.5
        self.logprobs = r.random() < 0.4
        if self.suite == "mc":
            made = [_trivia(r) if r.random() < 0.4 else tasks.math(r) for _ in range(size + 3)]
            pool = sorted({m.answer for m in made} | {a for _, a in words.TRIVIA})
            items = [_mc_item(r, m, pool) for m in made]
            shots = "".join(f"{q} {a}\n\n" for q, a in items[:3])
            prefix = _MC_PREFIX.format(subject=pick(r, SUBJECTS)) + shots
        elif self.suite == "math":
            made = [tasks.math(r) for _ in range(size + 3)]
            items = [(f"Question: {m.prompt}\nAnswer:", tasks.cot_reply(m, r)) for m in made]
            prefix = _MATH_PREFIX + "".join(
                f"{q} {' '.join(m.steps)}. The answer is {m.answer}.\n\n"
                for (q, _), m in zip(items[:3], made)
            )
        else:
            made = [_trivia(r) if r.random() < 0.2 else _api_question(r) for _ in range(size + 3)]
            items = [(f"Q: {m.prompt}\nA:", m.answer) for m in made]
            prefix = _QA_PREFIX + "".join(f"{q} {a}\n\n" for q, a in items[:3])
        self.items = [(prefix + q, a) for q, a in items[3:]]
        self.i = 0

    def request(self, ts: float, ok: bool) -> Request:
        prompt, answer = self.items[self.i % len(self.items)]
        model = MODELS[(self.i // len(self.items)) % 2]
        self.i += 1
        max_tokens = 512 if self.suite == "math" else 16
        if self.completions:
            params = {"temperature": 0.0, "max_tokens": 1, "logprobs": 5}
            return Request(COMPLETIONS, model, None, prompt, params, answer)
        params = {"temperature": 0.0, "max_tokens": max_tokens}
        if self.logprobs:
            params.update(logprobs=True, top_logprobs=5)
        return chat_request(model, [user(prompt)], params, answer)


_QUALITY = (
    "great",
    "terrible",
    "okay",
    "better than expected",
    "disappointing",
    "solid",
    "flimsy",
    "excellent",
)
_EXTRA = (
    "Would buy again.",
    "Not worth the money.",
    "Arrived on time.",
    "The box was damaged.",
    "My kids use it every day.",
    "Returned it after a week.",
    "Does what it says.",
    "Customer service was slow.",
    "",
    "",
    "",
)
_TOPICS = ("programming", "science", "finance", "travel", "health", "law")


class Labelling(Actor):
    """A labelling company: one fixed instruction over a stream of items from a narrow domain."""

    def setup(self) -> None:
        r = self.r
        self.task = pick(r, ("sentiment", "ticket", "topic"))
        self.model = MODELS[1] if r.random() < 0.6 else MODELS[0]
        self.params = {"temperature": 0.0, "max_tokens": pick(r, (2, 5, 10))}
        self.system = r.random() < 0.5

    def request(self, ts: float, ok: bool) -> Request:
        r = self.r
        if self.task == "sentiment":
            (opinion, label), quality = pick(r, words.REVIEW_OPINIONS), pick(r, _QUALITY)
            item = (
                f"I {opinion} this {pick(r, words.PRODUCTS)}. "
                f"The {pick(r, words.REVIEW_ASPECTS)} is {quality}. "
                f"{pick(r, _EXTRA)}"
            ).strip()
            instruction = (
                "Classify the sentiment of the review as positive, negative or neutral. Reply with one word."
            )
            head = "Review"
        elif self.task == "ticket":
            topic, label = pick(r, words.TICKET_TOPICS)
            item = (
                f"Hi, {topic}. Order #{between(r, 100000, 999999)}. "
                f"{pick(r, ('Thanks', 'Please help', 'Regards'))}"
            )
            instruction = (
                "Categorise the support ticket as billing, shipping, account or technical. "
                "Reply with the category only."
            )
            head = "Ticket"
        else:
            item, label = pick(r, t.corpus().sentences), "programming"
            instruction = (
                f"Which topic is the sentence about: {', '.join(_TOPICS)}? Reply with the topic only."
            )
            head = "Sentence"
        if self.system:
            return chat_request(
                self.model,
                [{"role": "system", "content": instruction}, user(f"{head}: {item}")],
                self.params,
                label,
            )
        return chat_request(self.model, [user(f"{instruction}\n\n{head}: {item}")], self.params, label)
