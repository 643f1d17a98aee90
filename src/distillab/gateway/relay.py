"""One request through the gateway: who is asking, may they, forward it, record it.

    key -> account (401 if unknown or revoked)
        -> account state and rate limits (403 blocked, 429 + Retry-After)
        -> degrade the request if the account is degraded
        -> forward to the model (streaming chunk by chunk)
        -> write the request-log record durably (and settle the tokens charge with the answer's
           usage), then finish the response

For a streamed answer the record is written after the last chunk arrives from the model and before
the response ends, so a client that saw the end of its answer was logged. Refused requests are logged
too, with the decision and its reason; requests with no valid key are counted but not logged (they
belong to no account).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from distillab.errors import RequestError, StoreError
from distillab.gateway.answers import SSEText, answer_text, without_echo
from distillab.gateway.buckets import Buckets, LocalBuckets
from distillab.gateway.keycache import KeyCache
from distillab.gateway.metrics import Metrics
from distillab.gateway.policy import Admission, Limits, Verdict, degrade, estimate_tokens
from distillab.gateway.upstream import Upstream, UpstreamError
from distillab.openai_wire.errors import error_body

if TYPE_CHECKING:  # the detector (numpy, pyarrow) is imported only by gateways that run one
    from distillab.gateway.detector import LiveDetector

log = logging.getLogger("distillab.gateway")
STORE_DOWN = "the gateway's store is unavailable; retry later"


def note_store_down(metrics: Metrics, path: str, exc: BaseException) -> dict[str, Any]:
    """Count and log a request the store could not authorize or log; the error body the client gets."""
    metrics.rejections.labels("store_unavailable").inc()
    log.error(
        json.dumps(
            {
                "event": "store_error",
                "path": path,
                "error": (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300],
            }
        )
    )
    return error_body(STORE_DOWN, type="server_error", code="store_unavailable")


STATE_TTL_S = 2.0
"""How stale an account's state may be in this replica (states are re-read from the store)."""


@dataclass
class Caller:
    account: str
    key_id: str
    org: str | None
    payment_id: str | None


class StateCache:
    """Account states from the store, re-read at most every STATE_TTL_S seconds of `clock`."""

    def __init__(self, store: Any, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.clock = clock
        self.states: dict[str, str] = {}
        self.read_at = -1e9
        self.reading: asyncio.Future[None] | None = None
        self.generation = 0  # bumped by forget(): a read begun before it does not count as fresh

    async def get(self, account: str) -> str:
        if self.clock() - self.read_at > STATE_TTL_S:
            if self.reading is None or self.reading.done():  # one read for all the requests waiting on it
                self.reading = asyncio.ensure_future(self._read())
            await asyncio.shield(self.reading)
        return self.states.get(account, "allow")

    async def _read(self) -> None:
        started, generation = self.clock(), self.generation
        states = await run_in_threadpool(self.store.states)
        if generation == self.generation:
            self.states, self.read_at = states, started

    def forget(self) -> None:
        self.generation += 1
        self.read_at = -1e9
        self.reading = None


class LogWriter:
    """Group commit: records from requests in flight together are written in one transaction.

    `await write(record)` returns once the record is committed, so every response still waits for its
    own record to be durable; concurrent requests just share the commit (and its fsync).
    """

    def __init__(self, store: Any):
        self.store = store
        self.pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.flushing: asyncio.Task[None] | None = None

    async def write(self, record: dict[str, Any]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((record, done))
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.ensure_future(self._flush())
        await done

    async def _flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await run_in_threadpool(self.store.log_requests, [record for record, _ in batch])
            except Exception as exc:  # every waiting request learns its record was not stored
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)


class Relay:
    """Everything a /v1 request needs: store, admission, upstream, metrics.

    `clock` (monotonic seconds) times what expires or refills: cached keys and states, rate-limit buckets
    of this process. `buckets` hold the rate limits (default: this process's own).
    """

    def __init__(
        self,
        store: Any,
        upstream: Upstream,
        limits: Limits,
        metrics: Metrics,
        detector: LiveDetector | None = None,
        clock: Callable[[], float] = time.monotonic,
        buckets: Buckets | None = None,
    ):
        self.store = store
        self.upstream = upstream
        self.limits = limits
        self.clock = clock
        self.admission = Admission(limits, buckets or LocalBuckets(clock))
        self.states = StateCache(store, clock)
        self.keys = KeyCache(store.verify_key, clock=clock)
        self.metrics = metrics
        self.log_writer = LogWriter(store)
        self.detector = detector

    async def authorize(self, request: Request) -> Caller:
        """The caller behind the request's API key; ``RequestError`` 401 (counted, not logged) otherwise."""
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        info = None
        if scheme.lower() == "bearer" and secret.strip():
            info = await self.keys.verify(secret.strip())
        if info is None or info.revoked:
            self.metrics.rejections.labels("unauthorized").inc()
            self.metrics.requests.labels(request.url.path, "401", "unauthorized").inc()
            if not secret.strip() or scheme.lower() != "bearer":
                raise RequestError(
                    "missing API key: send 'Authorization: Bearer <key>'", status=401, code="missing_api_key"
                )
            raise RequestError(
                f"{'revoked' if info is not None else 'invalid'} API key", status=401, code="invalid_api_key"
            )
        return Caller(info.account, info.key_id, info.org, info.payment_id)

    async def handle(self, request: Request, endpoint: str, caller: Caller) -> Response:
        started = time.monotonic()
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self._count(endpoint, 400, "bad_request", started)
            return _error(400, "the request body must be a JSON object")
        record = self._record(request, caller, endpoint, body)
        state = await self.states.get(caller.account)
        verdict = await self.admission.check(caller.account, state, estimate_tokens(body))
        if not verdict.allowed:
            self.metrics.rejections.labels(verdict.decision).inc()
            if verdict.decision == "block":
                response = _error(
                    403,
                    f"account {caller.account!r} is blocked",
                    code="account_blocked",
                    type="permission_error",
                )
            else:
                unavailable = verdict.decision == "limits_unavailable"
                what = "rate limits unavailable" if unavailable else "rate limit reached"
                response = _error(
                    429,
                    f"{what}: {verdict.reason}; retry after {verdict.retry_after:.1f}s",
                    code="limits_unavailable" if unavailable else "rate_limit_exceeded",
                    type="requests",
                )
                response.headers["Retry-After"] = str(max(1, round(verdict.retry_after + 0.5)))
            await self._finish(record, response.status_code, verdict.decision, verdict.reason, started)
            return response
        forwarded = degrade(body, self.limits) if verdict.decision == "degrade" else body
        record.update(decision=verdict.decision, reason=verdict.reason)
        path = "/chat/completions" if endpoint.endswith("chat/completions") else "/completions"
        # Forwarded as the client sent it, unless degraded: no second encoding of the body.
        payload = await request.body() if forwarded is body else forwarded
        if forwarded.get("stream"):
            return await self._stream(path, payload, record, started, verdict, forwarded)
        try:
            raw, answer = await self.upstream.fetch("POST", path, payload, account=caller.account)
        except UpstreamError as exc:
            self.metrics.rejections.labels("upstream_error").inc()
            await self._finish(record, exc.status, "upstream_error", str(exc), started)
            return JSONResponse(exc.body, status_code=exc.status)
        usage = answer.get("usage") or {}
        record.update(
            response=answer_text(answer, forwarded),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
        await self._finish_settled(record, verdict, usage, started)
        return Response(raw, media_type="application/json")  # the upstream's bytes, not re-encoded

    async def _stream(
        self,
        path: str,
        body: bytes | dict[str, Any],
        record: dict[str, Any],
        started: float,
        verdict: Verdict,
        request: dict[str, Any],
    ) -> Response:
        try:
            upstream = await self.upstream.open("POST", path, body, account=record["account"])
        except UpstreamError as exc:
            self.metrics.rejections.labels("upstream_error").inc()
            await self._finish(record, exc.status, "upstream_error", str(exc), started)
            return JSONResponse(exc.body, status_code=exc.status)
        events = SSEText()

        async def chunks() -> AsyncIterator[bytes]:
            # Each chunk is held back until the next arrives, and the record is written before the last
            # one (with "data: [DONE]") goes out: a client that saw the end of its answer was logged.
            held: bytes | None = None
            logged = False
            try:
                async for chunk in upstream.content.iter_any():
                    events.feed(chunk)
                    if held is not None:
                        yield held
                    held = chunk
                upstream.release()
                record.update(
                    response=without_echo(events.text(), request),
                    prompt_tokens=events.prompt_tokens,
                    completion_tokens=events.completion_tokens,
                )
                try:
                    await self._finish_settled(record, verdict, events.usage, started)
                except StoreError as exc:  # not logged: the end of the answer and [DONE] never go out
                    logged = True  # nor can the store take a 499 record now
                    yield b"data: " + json.dumps(note_store_down(self.metrics, path, exc)).encode() + b"\n\n"
                    return
                logged = True
                if held is not None:
                    yield held
            finally:
                if not logged:  # the client went away, or the upstream broke off mid-answer
                    upstream.close()
                    record.update(
                        response=without_echo(events.text(), request),
                        completion_tokens=events.completion_tokens,
                    )
                    asyncio.ensure_future(
                        self._finish(record, 499, "client_closed", "stream ended early", started)
                    )

        return StreamingResponse(chunks(), media_type="text/event-stream")

    def _record(
        self, request: Request, caller: Caller, endpoint: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        params = {k: v for k, v in body.items() if k not in ("messages", "prompt", "model")}
        return {
            "ts": time.time(),
            "account": caller.account,
            "key_id": caller.key_id,
            "ip": request.client.host if request.client else None,
            "user_agent": request.headers.get("user-agent"),
            "org": caller.org,
            "payment_id": caller.payment_id,
            "endpoint": endpoint,
            "model": body.get("model"),
            "messages": body.get("messages"),
            "prompt": body.get("prompt"),
            "params": params,
            "response": None,
            "prompt_tokens": None,
            "completion_tokens": None,
            "status": None,
            "latency_ms": None,
            "decision": None,
            "reason": None,
        }

    async def _finish_settled(
        self, record: dict[str, Any], verdict: Verdict, usage: Any, started: float
    ) -> None:
        """Finish an answered request (200), and settle its tokens charge with its usage meanwhile."""
        finishing = self._finish(record, 200, verdict.decision, verdict.reason, started)
        used = self.admission.to_settle(verdict, usage)
        if used is None:
            await finishing
        else:
            await asyncio.gather(finishing, self.admission.settle(record["account"], verdict, used))

    async def _finish(
        self, record: dict[str, Any], status: int, decision: str, reason: str | None, started: float
    ) -> None:
        latency = time.monotonic() - started
        record.update(
            status=status, decision=decision, reason=reason or None, latency_ms=round(1000 * latency, 2)
        )
        await self.log_writer.write(record)  # committed before the response completes
        if self.detector is not None:  # queued only: the detector's work happens off the request's path
            self.detector.observe(record)
        self._count(record["endpoint"], status, decision, started)
        for kind in ("prompt_tokens", "completion_tokens"):
            if record.get(kind):
                self.metrics.tokens.labels(kind.split("_")[0]).inc(record[kind])
        log.info(
            json.dumps(
                {
                    "event": "request",
                    "account": record["account"],
                    "endpoint": record["endpoint"],
                    "status": status,
                    "decision": decision,
                    "reason": reason,
                    "latency_ms": record["latency_ms"],
                    "completion_tokens": record.get("completion_tokens"),
                }
            )
        )

    def _count(self, endpoint: str, status: int, decision: str, started: float) -> None:
        self.metrics.requests.labels(endpoint, str(status), decision).inc()
        self.metrics.latency.labels(endpoint).observe(time.monotonic() - started)


def _error(
    status: int, message: str, *, code: str | None = None, type: str = "invalid_request_error"
) -> JSONResponse:
    return JSONResponse(error_body(message, type=type, code=code), status_code=status)
