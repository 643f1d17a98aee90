"""Retries with exponential backoff and full jitter, honouring the server's `Retry-After`.

Full jitter (sleep uniformly in [0, min(cap, base * 2^attempt)]) spreads a crowd of workers that all
failed at once, instead of having them retry in lockstep (AWS Architecture Blog, "Exponential Backoff
and Jitter"). When the server says how long to wait, we wait at least that long.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from distillab.errors import TeacherError
from distillab.teacher.http import RetryableTeacherError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures."""

    max_retries: int = 6
    """Retries after the first attempt (0: fail on the first transient error)."""
    base_delay: float = 0.5
    """Seconds; the backoff cap doubles from here with each attempt."""
    max_delay: float = 60.0
    """Seconds; no single wait is longer, except when the server's Retry-After asks for longer."""

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        jitter = rng.uniform(0.0, min(self.max_delay, self.base_delay * 2.0**attempt))
        return jitter if retry_after is None else max(retry_after, jitter)


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    before_attempt: Callable[[], Awaitable[None]] | None = None,
    on_retry: Callable[[RetryableTeacherError, float], None] | None = None,
    rng: random.Random | None = None,
) -> T:
    """`await call()`, retrying `RetryableTeacherError`s; after the last one raise a `TeacherError`.

    `before_attempt` runs before every attempt (the harvest uses it to take a rate-limit slot, because
    a retried request counts against the provider's limits like any other).
    """
    rng = rng or random.Random()
    for attempt in range(policy.max_retries + 1):
        if before_attempt is not None:
            await before_attempt()
        try:
            return await call()
        except RetryableTeacherError as exc:
            if attempt == policy.max_retries:
                tries = policy.max_retries + 1
                raise TeacherError(f"gave up after {tries} attempt{'s' if tries > 1 else ''}: {exc}") from exc
            wait = policy.delay(attempt, exc.retry_after, rng)
            if on_retry is not None:
                on_retry(exc, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")
