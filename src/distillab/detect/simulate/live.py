"""`drive(config)`: send the simulated traffic to a running `distillab serve --db` gateway.

Each simulated account gets an API key from the gateway's admin API (`POST /admin/keys` with its account,
org and payment id; the admin token comes from `$DISTILLAB_ADMIN_TOKEN`) when its first request is due;
then every request goes to `/v1/chat/completions` or `/v1/completions` with that key and the account's
User-Agent, in time order, `speedup` times faster than simulated time (default: as fast as the gateway
answers, `CONCURRENCY` at a time). The gateway logs them itself: real arrival times, the real client
address (this machine), its own statuses. No X-Forwarded-For is sent. The labels file is written as usual.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from distillab.detect.simulate.config import SimulateConfig
from distillab.detect.simulate.files import write_labels
from distillab.detect.simulate.run import Traffic, simulate
from distillab.errors import ConfigError, DistillabError

CONCURRENCY = 16
"""Requests in flight at once."""


@dataclass
class DriveResult:
    sent: int
    statuses: dict[str, int] = field(default_factory=dict)
    """Requests per HTTP status the gateway answered ("error" where no answer came)."""
    accounts: int = 0
    """Keys created, one per account that sent a request."""
    labels: Path | None = None
    seconds: float = 0.0


def drive(
    config: SimulateConfig,
    base_url: str | None = None,
    *,
    admin_token: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DriveResult:
    """Send `config`'s traffic to the gateway at `base_url` (default `config.gateway`); write the labels
    (and, with `config.out`, the simulated records that were sent)."""
    base = (base_url or config.gateway or "").rstrip("/").removesuffix("/v1")
    if not base:
        raise ConfigError("gateway: required (the gateway's URL, http://host:port)")
    token = admin_token or os.environ.get(config.admin_token_env)
    if not token:
        raise ConfigError(
            f"admin_token_env: ${config.admin_token_env} is not set; the gateway's admin token is "
            "needed to create a key per simulated account"
        )
    started = time.perf_counter()
    if config.out is not None:
        simulate(config)  # the same records, deterministically; cheap next to sending them
    traffic = Traffic(config)
    result = asyncio.run(_send(traffic, base, token, config.speedup, transport))
    labels = config.labels_path()
    write_labels(traffic.labels(), labels)
    result.labels, result.seconds = labels, time.perf_counter() - started
    return result


def request_body(record: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI API request body a record stands for."""
    text = (
        {"messages": record["messages"]} if record["messages"] is not None else {"prompt": record["prompt"]}
    )
    return {"model": record["model"], **text, **record["params"]}


async def _send(
    traffic: Traffic, base: str, token: str, speedup: float | None, transport: httpx.AsyncBaseTransport | None
) -> DriveResult:
    statuses: Counter[str] = Counter()
    fatal: list[str] = []
    keys: dict[str, asyncio.Future[str]] = {}
    slots = asyncio.Semaphore(CONCURRENCY)
    running: set[asyncio.Future[None]] = set()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=120.0, transport=transport, limits=limits) as client:
        try:
            (await client.get("/health")).raise_for_status()
        except httpx.HTTPError as exc:
            raise DistillabError(f"gateway {base}: not reachable or unhealthy ({exc})") from None

        async def new_key(record: dict[str, Any]) -> str:
            body = {"account": record["account"], "org": record["org"], "payment_id": record["payment_id"]}
            answer = await client.post("/admin/keys", json=body, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 201:
                raise DistillabError(
                    f"gateway {base}: creating a key for {record['account']} failed with "
                    f"{answer.status_code}: {answer.text[:300]}"
                )
            return str(answer.json()["key"])

        async def one(record: dict[str, Any]) -> None:
            try:
                key = await keys[record["account"]]
                answer = await client.post(
                    record["endpoint"],
                    json=request_body(record),
                    headers={"Authorization": f"Bearer {key}", "User-Agent": record["user_agent"]},
                )
                statuses[str(answer.status_code)] += 1
            except DistillabError as exc:
                fatal.append(str(exc))
            except httpx.HTTPError:
                statuses["error"] += 1
            finally:
                slots.release()

        loop = asyncio.get_running_loop()
        began, first = loop.time(), None
        for record in traffic.records():
            if fatal:
                break
            if speedup:
                first = record["ts"] if first is None else first
                delay = began + (record["ts"] - first) / speedup - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if record["account"] not in keys:
                keys[record["account"]] = asyncio.ensure_future(new_key(record))
            await slots.acquire()
            task = asyncio.ensure_future(one(record))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)
        for future in keys.values():  # retrieve every outcome, so none is reported as never retrieved
            if future.done() and not future.cancelled():
                future.exception()
    if fatal:
        raise DistillabError(fatal[0])
    return DriveResult(sum(statuses.values()), dict(sorted(statuses.items())), len(keys))
