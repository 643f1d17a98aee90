"""Hand-built request logs whose answers are known: honest chat users and two kinds of campaign."""

from __future__ import annotations

import random
from typing import Any

TOPICS = (
    "garden soil",
    "bread dough",
    "tax forms",
    "bike gears",
    "python lists",
    "email tone",
    "cat food",
    "train times",
    "guitar chords",
    "paint colours",
    "sql joins",
    "bird songs",
    "loan rates",
    "knitting",
    "moon phases",
    "chess openings",
    "coffee grind",
    "tent poles",
    "resume gaps",
    "river fishing",
)
VERBS = (
    "help me understand",
    "what do you think about",
    "can you compare",
    "give me tips on",
    "why does my",
    "is it normal that my",
    "how should I pick",
    "tell me a story about",
)
START = 1_760_000_000.0


def honest_account(rng: random.Random, name: str, *, ip: str | None = None) -> list[dict[str, Any]]:
    records = []
    ts = START + rng.uniform(0, 5 * 86400)
    history: list[dict[str, str]] = []
    for _ in range(rng.randint(5, 40)):
        ts += rng.expovariate(1 / 1800)
        if not history or rng.random() < 0.4:
            history = []
        question = f"{rng.choice(VERBS)} {rng.choice(TOPICS)} {rng.choice(TOPICS).split()[0]}?"
        history = history + [{"role": "user", "content": question}]
        params = {"temperature": 0.7, "max_tokens": rng.choice([128, 256, 512])}
        if rng.random() < 0.02:
            params.update(logprobs=True, top_logprobs=5)
        records.append(
            {
                "ts": ts,
                "account": name,
                "ip": ip or f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.7",
                "user_agent": f"app/{rng.randint(1, 9)}",
                "endpoint": "/v1/chat/completions",
                "model": "m",
                "messages": list(history),
                "params": params,
                "status": 200,
                "completion_tokens": rng.randint(20, 300),
            }
        )
        history = history + [{"role": "assistant", "content": "Sure, here is what I think."}]
    return records


def campaign_prompt(rng: random.Random, i: int, cot: bool = True) -> str:
    if cot:
        return f"Solve step by step and show your reasoning: problem {i} about {rng.choice(TOPICS)}."
    return f"{rng.choice(VERBS).capitalize()} {rng.choice(TOPICS)} and {rng.choice(TOPICS)}, case {i}?"


def attacker(
    rng: random.Random,
    name: str,
    count: int,
    *,
    payment: str | None = None,
    ip: str | None = None,
    start: float = START,
    cot: bool = True,
    logprobs: bool = True,
) -> list[dict[str, Any]]:
    """One-off prompts a minute apart (under a 60/min limit); by default asking for step-by-step
    reasoning and log-probabilities, with long answers."""
    records = []
    ts = start
    params: dict[str, Any] = {"temperature": 1.0, "max_tokens": 1024}
    if logprobs:
        params.update(logprobs=True, top_logprobs=20)
    for i in range(count):
        ts += 60 + rng.uniform(-5, 5)
        records.append(
            {
                "ts": ts,
                "account": name,
                "ip": ip or "192.0.2.10",
                "user_agent": "python-httpx/0.27",
                "payment_id": payment,
                "endpoint": "/v1/chat/completions",
                "model": "m",
                "messages": [{"role": "user", "content": campaign_prompt(rng, i, cot)}],
                "params": dict(params),
                "status": 200,
                "completion_tokens": 400,
            }
        )
    return records


def world(
    seed: int, honest: int = 300, *, heavy: bool = True, spread: int = 30
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A log (sorted by time) and its labels: honest users, a heavy account, a campaign spread thin."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    for i in range(honest):
        name = f"user-{seed}-{i}"
        records += honest_account(rng, name, ip="203.0.113.5" if i % 10 == 0 else None)  # a shared proxy
        labels[name] = "benign"
    if heavy:
        records += attacker(rng, "heavy", 400)
        labels["heavy"] = "c-heavy"
    for j in range(spread):
        name = f"thin-{j}"
        records += attacker(rng, name, 12, payment="card-77", ip=f"198.51.100.{j}", start=START + j * 3000)
        labels[name] = "c-thin"
    records.sort(key=lambda r: r["ts"])
    return records, labels


def benchmark_runner(rng: random.Random, name: str, count: int, *, items: int = 150) -> list[dict[str, Any]]:
    """An honest benchmark team: the same multiple-choice template over a fixed set of items, run after
    run, one-off, temperature 0, log-probabilities of a one-token answer, a request a second."""
    records = []
    ts = START + rng.uniform(0, 86400)
    for i in range(count):
        ts += 1.0 + rng.uniform(0, 0.2)
        item = i % items
        records.append(
            {
                "ts": ts,
                "account": name,
                "ip": "192.0.2.200",
                "user_agent": "lm-eval/0.4",
                "endpoint": "/v1/chat/completions",
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": f"Question {item}: which of these is true about {TOPICS[item % 7]}? "
                        "Answer with A, B, C or D.\nAnswer:",
                    }
                ],
                "params": {"temperature": 0.0, "max_tokens": 1, "logprobs": True, "top_logprobs": 5},
                "status": 200,
                "completion_tokens": 1,
            }
        )
    return records


def hydra_account(rng: random.Random, name: str, count: int, *, start: float = START) -> list[dict[str, Any]]:
    """One account of a campaign spread over many that share no payment id, org or network: one-off
    prompts over every topic, half of them asking for step-by-step reasoning, long answers, no
    log-probabilities; a few minutes apart."""
    records = []
    ts = start + rng.uniform(0, 3600)
    for i in range(count):
        ts += rng.uniform(120, 600)
        records.append(
            {
                "ts": ts,
                "account": name,
                "ip": f"198.18.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "user_agent": f"Mozilla/5.0 (build {rng.randint(1, 99)})",
                "endpoint": "/v1/chat/completions",
                "model": "m",
                "messages": [{"role": "user", "content": campaign_prompt(rng, i, cot=rng.random() < 0.5)}],
                "params": {"temperature": 0.7, "max_tokens": 2048},
                "status": 200,
                "completion_tokens": rng.randint(300, 900),
            }
        )
    return records
