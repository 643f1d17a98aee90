"""One round of live traffic against the gateway: simulated honest users, and a distillation campaign that
keeps what it gets back.

The campaign is the "many accounts, each under the rate limit" strategy aimed at the teacher's skill: a
shared work queue of the task's prompts dealt round-robin to `campaign_accounts` accounts, one request at a
time per account, spaced to stay under the gateway's per-account limit, asking for top-5 log-probabilities
at temperature 1. How well it hides is the world's `CampaignStyle`: in the tiny world its accounts share
payment cards in groups of five and one SDK user agent, and send back to back; in the real world they share
no metadata, each comes from its own home network, browser and pace (pauses drawn like an honest power
user's), so only what they ask and how can give them away.

Each 200 answer is kept exactly as returned (text, tokens, log-probabilities), in the
order it arrived: that is the attacker's harvest. A 429 is waited out (Retry-After) and retried; a 403 ends
that account (it is blocked). Degraded answers are kept as they come (shorter, without log-probabilities).

Honest users are `distillab simulate`'s personas (their first `honest_requests` requests), replayed at an
even pace over the same period (from their own simulated addresses when the campaign uses its own).
Keys for every account come from the gateway's admin API, so this runs
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

from distillab.detect.simulate.identity import BROWSERS, SDKS, Ids, home_ip
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
POWER_USER_GAP_S = 6.0
"""The simulator's honest power users ask again about every 6 s within a session
(`detect/simulate/personas.py`): the real world's campaign paces itself so."""


@dataclass(frozen=True)
class CampaignStyle:
    """How the campaign hides; the defaults are the tiny world's plain many-accounts campaign."""

    shared_payments: bool = True
    """Accounts reuse a payment card in groups of five (a link the detector's metadata features see)."""
    own_networks: bool = False
    """Each account sends from its own home address (X-Forwarded-For through the loopback proxy the gateway
    trusts) with its own browser's user agent, and honest users from their simulated addresses; otherwise
    everyone is 127.0.0.1 and the campaign's accounts share one SDK's user agent."""
    pause_s: float | None = None
    """Mean pause between an account's requests (exponential, never under the rate limit's spacing), like
    a person's; None: back to back at the rate limit's spacing."""


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


def campaign_body(model: str, messages: list[dict[str, str]], max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    return {
        "model": model,
        "messages": messages,
        "temperature": 1.0,
        "max_tokens": max_tokens,
        "logprobs": True,
        "top_logprobs": TOP_LOGPROBS,
    }


def honest_body(record: dict[str, Any], model: str, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """The request a simulated honest record stands for, sent to `model`; no streaming, so its answer is
    read whole (the gateway logs streamed and plain requests alike). Answers are capped at the campaign's
    `max_tokens`: the simulated users ask a real assistant for up to 4k tokens, which a small teacher
    would spend rambling, and a batch lasts as long as its longest answer."""
    text = (
        {"messages": record["messages"]} if record["messages"] is not None else {"prompt": record["prompt"]}
    )
    params = {k: v for k, v in record["params"].items() if k != "stream"}
    params["max_tokens"] = min(int(params.get("max_tokens") or max_tokens), max_tokens)
    return {**text, **params, "model": model}


def forwarded(headers: dict[str, str], ip: str | None) -> dict[str, str]:
    """`headers` with the client's address for the gateway's trusted loopback proxy to log, when given."""
    return {**headers, "X-Forwarded-For": ip} if ip else headers


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
    style: CampaignStyle = CampaignStyle(),
    max_tokens: int = MAX_TOKENS,
    on_progress: Any = None,
) -> TrafficResult:
    """Send the campaign's `prompts` over `accounts` accounts and the `honest` records; see the module doc."""
    r = Random(f"campaign:{seed}")
    ids = Ids(Random(f"campaign-ids:{seed}"))
    names = [ids.account() for _ in range(accounts)]
    agent = r.choice(SDKS)
    agents = [r.choice(BROWSERS) if style.own_networks else agent for _ in names]
    if style.shared_payments:  # cards reused across small groups
        cards = [ids.payment() for _ in range(-(-accounts // 5))]
        payments = [cards[j // 5] for j in range(accounts)]
    else:
        payments = [ids.payment() for _ in range(accounts)]
    ips: list[str | None] = [home_ip(r) if style.own_networks else None for _ in names]
    gap = 60.0 / rpm * 1.05
    pauses = Random(f"campaign-pace:{seed}")

    def pause() -> float:
        return gap if style.pause_s is None else max(gap, pauses.expovariate(1.0 / style.pause_s))

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

        campaign_keys = [await new_key(name, None, payments[j]) for j, name in enumerate(names)]
        honest_keys: dict[str, str] = {}
        for record in honest:
            if record["account"] not in honest_keys:
                honest_keys[record["account"]] = await new_key(
                    record["account"], record["org"], record["payment_id"]
                )
        result.honest_accounts = sorted(honest_keys)

        async def attacker(j: int) -> None:
            headers = forwarded(
                {"Authorization": f"Bearer {campaign_keys[j]}", "User-Agent": agents[j]}, ips[j]
            )
            await asyncio.sleep(pause() * j / accounts)  # staggered starts
            for index in range(j, len(prompts), accounts):
                while True:
                    sent = time.monotonic()
                    try:
                        response = await client.post(
                            "/v1/chat/completions",
                            headers=headers,
                            json=campaign_body(model, prompts[index], max_tokens),
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
                await asyncio.sleep(max(0.0, sent + pause() - time.monotonic()))

        expected = len(prompts) / accounts * (style.pause_s or gap)
        slots = asyncio.Semaphore(HONEST_CONCURRENCY)

        async def user(i: int, record: dict[str, Any]) -> None:
            await asyncio.sleep(expected * i / max(1, len(honest)))
            async with slots:
                headers = forwarded(
                    {
                        "Authorization": f"Bearer {honest_keys[record['account']]}",
                        "User-Agent": record["user_agent"],
                    },
                    record["ip"] if style.own_networks else None,
                )
                endpoint = record["endpoint"]
                try:
                    response = await client.post(
                        endpoint, headers=headers, json=honest_body(record, model, max_tokens)
                    )
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
