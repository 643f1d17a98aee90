"""Hand-built request logs whose answers are known: honest chat users and two kinds of campaign."""

from __future__ import annotations

import json
import random
from pathlib import Path
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


AGENTS = ("python-requests/2.31", "openai-python/1.30.1", "node-fetch/3.3", "curl/8.5")
ITEMS = ("apples", "train tickets", "paint tins", "seed packets", "bus passes", "notebooks", "tiles")


def reasoning_benchmark(rng: random.Random, name: str, items: int = 120) -> list[dict[str, Any]]:
    """An honest team running a reasoning benchmark: the same few-shot instruction before each item,
    one-off prompts asking it to show its work, log-probabilities, a one-token answer, a second pass."""
    records = []
    ts = START + rng.uniform(0, 86400)
    for _ in range(2):
        for i in range(items):
            ts += rng.uniform(0.8, 1.2)
            records.append(
                {
                    "ts": ts,
                    "account": name,
                    "ip": "203.0.113.77",
                    "user_agent": "lm-eval/0.4",
                    "endpoint": "/v1/chat/completions",
                    "model": "m",
                    "messages": [
                        {
                            "role": "user",
                            "content": "Q: 2 + 3? A: 5. Q: 4 + 4? A: 8. Show your work, then answer with "
                            f"one letter. Question {i}: which option is largest?",
                        }
                    ],
                    "params": {"temperature": 0, "max_tokens": 1, "logprobs": True, "top_logprobs": 5},
                    "status": 200,
                    "completion_tokens": 1,
                }
            )
        ts += 3600
    return records


def tutor(rng: random.Random, name: str, count: int = 300) -> list[dict[str, Any]]:
    """An honest tutoring app: one-off homework questions, each new, every one asking for the steps,
    answers of a few hundred tokens. Honest reasoning harvesting's far edge."""
    records = []
    ts = START + rng.uniform(0, 86400)
    for i in range(count):
        ts += rng.uniform(60, 600)
        topic = rng.choice(TOPICS)
        records.append(
            {
                "ts": ts,
                "account": name,
                "ip": "203.0.113.90",
                "user_agent": "tutor-app/3.2",
                "endpoint": "/v1/chat/completions",
                "model": "m",
                "messages": [
                    {"role": "system", "content": "You are a patient tutor. Explain each step."},
                    {"role": "user", "content": f"Homework {i} on {topic}: walk me through it step by step."},
                ],
                "params": {"temperature": 0.3, "max_tokens": 512},
                "status": 200,
                "completion_tokens": rng.randint(200, 500),
            }
        )
    return records


def hydra_prompt(rng: random.Random) -> str:
    a, b, c = rng.randint(2, 90), rng.randint(2, 40), rng.randint(2, 9)
    item, other = rng.sample(ITEMS, 2)
    opener = rng.choice(("Solve step by step:", "Work it out step by step:", "Reason step by step:"))
    return (
        f"{opener} a shop sells {item} at {a} dollars each and {other} at {b} dollars. Mia buys {c} "
        f"{item} and twice as many {other}. How much does she pay in total?"
    )


def hydra(rng: random.Random, count: int, requests: int = 40) -> list[dict[str, Any]]:
    """`count` accounts of one campaign sharing nothing: each its own payment id, org, network and a
    common client library; alike in what they ask (worked arithmetic, step by step), how (the same
    parameters) and when (a steady pace). Each is at the honest edge, not beyond it."""
    records = []
    for j in range(count):
        ts = START + rng.uniform(0, 2 * 86400)
        agent = AGENTS[j % len(AGENTS)]
        for _ in range(requests):
            ts += rng.uniform(80, 160)
            records.append(
                {
                    "ts": ts,
                    "account": f"hydra-{j}",
                    "ip": f"100.{64 + j}.{rng.randint(0, 255)}.9",
                    "user_agent": agent,
                    "org": f"org-{j}",
                    "payment_id": f"card-{j}",
                    "endpoint": "/v1/chat/completions",
                    "model": "m",
                    "messages": [{"role": "user", "content": hydra_prompt(rng)}],
                    "params": {"temperature": 0.7, "max_tokens": 2048},
                    "status": 200,
                    "completion_tokens": rng.randint(500, 900),
                }
            )
    return records


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


def detect_at(
    log: Path, reference: tuple[Path, Any], out: Path, target: float
) -> tuple[Any, list[dict[str, Any]]]:
    """`distillab detect` on `log` against a prepared honest reference at `--target-fpr target`, scored once
    at the end: its summary and the linked groups it wrote (campaigns.json)."""
    from distillab.detect.config import DetectConfig
    from distillab.detect.run import run_detect

    path, prepared = reference
    config = DetectConfig(
        log=str(log), out=out, reference=str(path), target_fpr=target, checkpoint_hours=0, progress=False
    )
    summary = run_detect(config, prepared=prepared)
    return summary, json.loads((out / "campaigns.json").read_text())
