"""Rate-limit buckets in Redis, shared by every gateway replica: exact limits behind a load balancer.

    buckets = RedisBuckets("redis://10.0.0.7:6379/0", on_failure="open", replicas=3, metrics=metrics)
    await buckets.start()                                   # connects, loads the script (or goes local)
    taken = await buckets.take("allow:acme", Rates(60, 40_000), tokens=300)

An account's two buckets (requests, tokens) in one state are one Redis hash, read, refilled, checked
and charged by one Lua script (`SCRIPT`): one EVALSHA per admission, atomic, so replicas never admit
on the same allowance twice. Time is the Redis server's (`TIME`), so replicas' clocks do not have to
agree. A hash expires once its buckets would be full again (its absence means full). The calls of
requests arriving together go out in one pipeline (one write, one read: one round trip for all of
them), as the request log's records share a commit: redis-py costs about 0.2 ms of CPU per call sent
alone, about 0.05 ms per call with 64 in flight (`benchmarks/gateway_replicas.py`).

When Redis cannot be reached or fails (a connection refused, a timeout of `TIMEOUT_S`, an error
reply), the gateway does what `on_failure` says: "open" decides on buckets of its own at 1/`replicas`
of the limits, so R replicas together still admit about the limit; "closed" refuses (429). Each
such request is counted (`distillab_limits_fallback_total{mode}`), the outage is logged once when it
starts (`limits_redis_down`) and once when it ends (`limits_redis_back`), and
`distillab_limits_redis_down` is 1 meanwhile. Redis is tried again `RETRY_S` after a failure, by
one request at a time (the rest decide without it meanwhile), so an outage costs no waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from distillab.gateway.buckets import LocalBuckets, Rates, Taken
from distillab.gateway.metrics import Metrics

log = logging.getLogger("distillab.gateway")

PREFIX = "distillab:limits:"
TIMEOUT_S = 0.5
"""How long a Redis call may take before the gateway decides without it."""
RETRY_S = 1.0
"""How long after a failure Redis is tried again (the Retry-After of a closed refusal)."""

SCRIPT = """
-- KEYS[1]: one account's buckets in one state, a hash: r (requests left), t (tokens left),
--   s (when they were last refilled, Redis server time in microseconds).
-- ARGV: rpm, tpm (per minute, also the bucket sizes; 0: no such limit), requests, tokens,
--   worst (settle only), settle (1: charge tokens - min(worst, tpm) without checking).
-- Returns {0} when charged, {milliseconds until it would fit, 'rpm' or 'tpm'} when refused (nothing charged).
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local want_r, want_t = tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local held = redis.call('HMGET', KEYS[1], 'r', 't', 's')
local minutes = math.max(0, now - (tonumber(held[3]) or now)) / 60000000
local r, t = 0, 0
if rpm > 0 then r = math.min(rpm, (tonumber(held[1]) or rpm) + minutes * rpm) end
if tpm > 0 then t = math.min(tpm, (tonumber(held[2]) or tpm) + minutes * tpm) end
if ARGV[6] == '1' then
  want_t = want_t - math.min(tonumber(ARGV[5]), tpm)
else
  want_r, want_t = math.min(want_r, rpm), math.min(want_t, tpm)
  local wait, kind = 0, ''
  if rpm > 0 and r < want_r then wait, kind = (want_r - r) * 60000 / rpm, 'rpm' end
  if tpm > 0 and t < want_t and (want_t - t) * 60000 / tpm > wait then
    wait, kind = (want_t - t) * 60000 / tpm, 'tpm'
  end
  if wait > 0 then return {math.ceil(wait), kind} end
end
local fields, empty = {'s', string.format('%.0f', now)}, 0
if rpm > 0 then
  r = r - want_r
  empty = math.max(empty, (rpm - r) / rpm)
  table.insert(fields, 'r')
  table.insert(fields, string.format('%.17g', r))
end
if tpm > 0 then
  t = math.min(tpm, t - want_t)
  empty = math.max(empty, (tpm - t) / tpm)
  table.insert(fields, 't')
  table.insert(fields, string.format('%.17g', t))
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], math.ceil(empty * 60000) + 1000)
return {0}
"""


class RedisBuckets:
    """`Buckets` in Redis, with this replica's own `LocalBuckets` (at 1/replicas) for when it is down."""

    def __init__(
        self,
        url: str,
        *,
        on_failure: str,
        replicas: int,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ):
        # One immediate retry on a fresh connection when a pooled one has died (a Redis restart); none
        # after a timeout, which may have run the script already.
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_S,
            socket_connect_timeout=TIMEOUT_S,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self.sha = hashlib.sha1(SCRIPT.encode()).hexdigest()
        self.pending: list[tuple[list[Any], asyncio.Future[Any]]] = []
        self.sending: asyncio.Task[None] | None = None
        self.on_failure = on_failure
        self.share = 1 / replicas
        self.metrics = metrics
        self.clock = clock
        self.fallback = LocalBuckets(clock)
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.probing = False
        self.fallbacks = 0  # requests decided without Redis in the current outage

    async def start(self) -> None:
        """Load the script (so the first EVALSHA finds it), or start in the failure mode."""
        try:
            await self.client.script_load(SCRIPT)
        except (RedisError, OSError) as exc:
            self._down(exc)

    async def take(self, key: str, rates: Rates, tokens: float) -> Taken:
        reply = await self._call(key, rates, 1, tokens, 0, settle=False)
        if reply is not None:
            return Taken() if reply[0] == 0 else Taken(reply[0] / 1000, reply[1].decode())
        self.fallbacks += 1
        self.metrics.limits_fallback.labels(self.on_failure).inc()
        if self.on_failure == "closed":
            return Taken(RETRY_S, "unavailable")
        return await self.fallback.take(key, rates.scaled(self.share), tokens)

    async def settle(self, key: str, rates: Rates, worst: float, used: float, taken: Taken) -> None:
        if taken.local:
            await self.fallback.settle(key, rates.scaled(self.share), worst, used, taken)
        else:  # when Redis is down now, the worst case stays charged there
            await self._call(key, rates, 0, used, worst, settle=True)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _call(
        self, key: str, rates: Rates, requests: int, tokens: float, worst: float, *, settle: bool
    ) -> Any:
        """The script's reply, or None when Redis is down (or being probed by another request)."""
        if self.down_since is not None and (self.probing or self.clock() < self.retry_at):
            return None
        probe = self.down_since is not None
        if probe:
            self.probing = True
        try:
            reply = await self._eval(
                [PREFIX + key, rates.rpm or 0, rates.tpm or 0, requests, tokens, worst, int(settle)]
            )
        except (RedisError, OSError) as exc:
            self._down(exc)
            return None
        finally:
            if probe:
                self.probing = False
        if self.down_since is not None:
            self._back()
        return reply

    async def _eval(self, call: list[Any]) -> Any:
        """The script's reply to ``call`` (its key and arguments), sent in the next pipeline."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append((call, done))
        if self.sending is None or self.sending.done():
            self.sending = asyncio.ensure_future(self._send())
        return await done

    async def _send(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                replies = await self._pipeline([call for call, _ in batch])
            except Exception as exc:  # every waiting request learns its call failed
                replies = [exc] * len(batch)
            for (_, done), reply in zip(batch, replies):
                if done.done():  # its request went away
                    continue
                if isinstance(reply, Exception):
                    done.set_exception(reply)
                else:
                    done.set_result(reply)

    async def _pipeline(self, calls: list[list[Any]]) -> list[Any]:
        """One EVALSHA per call in one pipeline; replies in order (an error reply as its exception).
        A Redis that lost the script (restarted) gets it again, and the calls it refused are resent."""
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for i in todo:
                pipe.evalsha(self.sha, 1, *calls[i])
            for i, reply in zip(todo, await pipe.execute(raise_on_error=False)):
                replies[i] = reply
            todo = [i for i in todo if isinstance(replies[i], NoScriptError)]
            if not todo or attempt == 2:
                break
            await self.client.script_load(SCRIPT)
        return replies

    def _down(self, exc: BaseException) -> None:
        now = self.clock()
        self.retry_at = now + RETRY_S
        if self.down_since is not None:
            return
        self.down_since = now
        self.metrics.limits_down.set(1)
        log.error(
            json.dumps(
                {
                    "event": "limits_redis_down",
                    "on_failure": self.on_failure,
                    "share": self.share,
                    "error": (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300],
                }
            )
        )

    def _back(self) -> None:
        assert self.down_since is not None
        log.warning(
            json.dumps(
                {
                    "event": "limits_redis_back",
                    "down_s": round(self.clock() - self.down_since, 3),
                    "fallback_requests": self.fallbacks,
                }
            )
        )
        self.down_since = None
        self.fallbacks = 0
        self.metrics.limits_down.set(0)
