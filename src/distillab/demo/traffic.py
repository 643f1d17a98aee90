"""One round of live traffic against the gateway: simulated honest users, and a distillation campaign that
keeps what it gets back.

The campaign is the "many accounts, each under the rate limit" strategy aimed at the teacher's skill: a
shared work queue of the task's prompts dealt round-robin to `campaign_accounts` accounts, one request at a
time per account, spaced to stay under the gateway's per-account limit, asking for top-5 log-probabilities
at temperature 1. Each 200 answer is kept exactly as returned (text, tokens, log-probabilities), in the
order it arrived: that is the attacker's harvest. A 429 is waited out (Retry-After) and retried; a 403 ends
that account (it is blocked). Degraded answers are kept as they come (shorter, without log-probabilities).

Honest users are `distillab simulate`'s personas (their first `honest_requests` requests), replayed at an
even pace over the same period. Keys for every account come from the gateway's admin API, so this runs
only against a gateway whose admin token you hold: it is a test harness for your own defenses.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from random import Random
from typing import Any

import httpx

from distillab.detect.simulate.identity import SDKS, Ids
from distillab.errors import DistillabError
from distillab.openai_wire.parse import parse_response
from distillab.teacher.base import Generation

HONEST_CONCURRENCY = 8
TOP_LOGPROBS = 5
"""Alternatives per token the campaign asks for: enough for logit distillation, and a quarter of the JSON
top-20 costs (on 2 CPU cores the gateway serves about 20 such requests/s against 13 with top-20)."""
MAX_TOKENS = 64
"""Longest answer either side asks for (a worked arith answer is about 25 tokens, a text continuation
is cut here)."""
RETRY_AFTER_CAP_S = 5.0


@dataclass
class Answer:
    """What one campaign query got back."""

    index: int
    """Position of the prompt in the campaign's work queue."""
    account: str
    sent: float
    """Seconds after the round started."""
    status: int
    generation: Generation | None = None
    degraded: bool = False
    """The answer came without the log-probabilities that were asked for."""


@dataclass
class TrafficResult:
    answers: list[Answer] = field(default_factory=list)
    campaign_accounts: list[str] = field(default_factory=list)
    honest_accounts: list[str] = field(default_factory=list)
    honest_statuses: dict[str, int] = field(default_factory=dict)
    campaign_statuses: dict[str, int] = field(default_factory=dict)
    blocked_accounts: list[str] = field(default_factory=list)
    seconds: float = 0.0
    started_epoch: float = 0.0
    """time.time() when the round began (`Answer.sent` counts from here)."""


def campaign_body(model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "model": model,
        "messages": messages,
        "temperature": 1.0,
        "max_tokens": MAX_TOKENS,
        "logprobs": True,
        "top_logprobs": TOP_LOGPROBS,
    }


def honest_body(record: dict[str, Any], model: str) -> dict[str, Any]:
    """The request a simulated honest record stands for, sent to `model`; no streaming, so its answer is
    read whole (the gateway logs streamed and plain requests alike). Answers are capped at the campaign's
    `MAX_TOKENS`: the simulated users ask a real assistant for up to 4k tokens, which the tiny teacher
    would spend rambling, and a batch lasts as long as its longest answer."""
    text = (
        {"messages": record["messages"]} if record["messages"] is not None else {"prompt": record["prompt"]}
    )
    params = {k: v for k, v in record["params"].items() if k != "stream"}
    params["max_tokens"] = min(int(params.get("max_tokens") or MAX_TOKENS), MAX_TOKENS)
    return {**text, **params, "model": model}


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(RETRY_AFTER_CAP_S, max(0.05, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


async def run_round(
    base: str,
    admin_token: str,
    model: str,
    prompts: list[list[dict[str, str]]],
    honest: list[dict[str, Any]],
    *,
    accounts: int,
    rpm: float,
    seed: int,
    on_progress: Any = None,
) -> TrafficResult:
    """Send the campaign's `prompts` over `accounts` accounts and the `honest` records; see the module doc."""
    r = Random(f"campaign:{seed}")
    ids = Ids(Random(f"campaign-ids:{seed}"))
    names = [ids.account() for _ in range(accounts)]
    agent = r.choice(SDKS)
    payments = [ids.payment() for _ in range(-(-accounts // 5))]  # cards reused across small groups
    gap = 60.0 / rpm * 1.05
    result = TrafficResult(campaign_accounts=names)
    campaign_status: Counter[str] = Counter()
    honest_status: Counter[str] = Counter()
    started = time.monotonic()
    result.started_epoch = time.time()
    limits = httpx.Limits(max_connections=accounts + HONEST_CONCURRENCY + 4)
    async with httpx.AsyncClient(base_url=base, timeout=300.0, limits=limits) as client:
        try:
            (await client.get("/health")).raise_for_status()
        except httpx.HTTPError as exc:
            raise DistillabError(f"gateway {base}: not reachable or unhealthy ({exc})") from None

        async def new_key(account: str, org: str | None, payment: str | None) -> str:
            answer = await client.post(
                "/admin/keys",
                json={"account": account, "org": org, "payment_id": payment},
                headers={"Authorization": f"Bearer {admin_token}"},
            )
            if answer.status_code != 201:
                raise DistillabError(
                    f"gateway {base}: creating a key for {account} failed with "
                    f"{answer.status_code}: {answer.text[:300]}"
                )
            return str(answer.json()["key"])

        campaign_keys = [await new_key(name, None, payments[j // 5]) for j, name in enumerate(names)]
        honest_keys: dict[str, str] = {}
        for record in honest:
            if record["account"] not in honest_keys:
                honest_keys[record["account"]] = await new_key(
                    record["account"], record["org"], record["payment_id"]
                )
        result.honest_accounts = sorted(honest_keys)

        async def attacker(j: int) -> None:
            headers = {"Authorization": f"Bearer {campaign_keys[j]}", "User-Agent": agent}
            await asyncio.sleep(gap * j / accounts)  # staggered starts
            for index in range(j, len(prompts), accounts):
                while True:
                    sent = time.monotonic()
                    try:
                        response = await client.post(
                            "/v1/chat/completions", headers=headers, json=campaign_body(model, prompts[index])
                        )
                    except httpx.HTTPError:
                        campaign_status["error"] += 1
                        break
                    campaign_status[str(response.status_code)] += 1
                    if response.status_code == 429:
                        await asyncio.sleep(_retry_after(response))
                        continue
                    answer = Answer(index, names[j], round(sent - started, 3), response.status_code)
                    if response.status_code == 200:
                        samples, prompt_tokens, completion_tokens = parse_response(
                            response.json(), chat=True, want_top=True, url=base
                        )
                        answer.generation = Generation(samples, prompt_tokens, completion_tokens)
                        answer.degraded = not samples or samples[0].top_logprobs is None
                    result.answers.append(answer)
                    if on_progress:
                        on_progress()
                    if response.status_code == 403:
                        result.blocked_accounts.append(names[j])
                        return
                    break
                await asyncio.sleep(max(0.0, sent + gap - time.monotonic()))

        expected = len(prompts) / accounts * gap
        slots = asyncio.Semaphore(HONEST_CONCURRENCY)

        async def user(i: int, record: dict[str, Any]) -> None:
            await asyncio.sleep(expected * i / max(1, len(honest)))
            async with slots:
                headers = {
                    "Authorization": f"Bearer {honest_keys[record['account']]}",
                    "User-Agent": record["user_agent"],
                }
                endpoint = record["endpoint"]
                try:
                    response = await client.post(endpoint, headers=headers, json=honest_body(record, model))
                    honest_status[str(response.status_code)] += 1
                except httpx.HTTPError:
                    honest_status["error"] += 1

        await asyncio.gather(
            *(attacker(j) for j in range(accounts)), *(user(i, record) for i, record in enumerate(honest))
        )
    result.answers.sort(key=lambda a: (a.sent, a.index))
    result.campaign_statuses, result.honest_statuses = dict(campaign_status), dict(honest_status)
    result.seconds = round(time.monotonic() - started, 1)
    return result
