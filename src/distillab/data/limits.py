"""Client-side rate limits (requests and tokens per minute) as token buckets.

These exist to stay inside a provider's *published* limits, so a long harvest is paced instead of
hammered with 429s; they are not a way around anyone's detection. Each bucket holds one second's worth
of allowance, which gives smooth pacing rather than a full minute's burst at start. A token estimate is
taken before each request and corrected by the usage the server reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """Allowance refilling at `per_minute / 60` per second, capped at one second's worth (at least 1).
    Time is `clock` (seconds), and waiting is `sleep`: tests pass a fake pair that moves together."""

    def __init__(
        self,
        per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
        self._updated = now

    async def take(self, amount: float) -> None:
        """Wait until `amount` may be spent, then spend it. Waiters are served in arrival order.

        An amount larger than the capacity waits for a full bucket and leaves it in debt, so big
        requests are paced by the long-run rate instead of blocking forever.
        """
        async with self._lock:
            need = min(amount, self.capacity)
            self._refill()
            while self.level < need:
                await self._sleep((need - self.level) / self.rate)
                self._refill()
            self.level -= amount

    def adjust(self, amount: float) -> None:
        """Charge (positive) or refund (negative) the difference between estimate and actual use."""
        self._refill()
        self.level = min(self.capacity, self.level - amount)


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits; either may be absent."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.requests = TokenBucket(rpm, clock, sleep) if rpm else None
        self.tokens = TokenBucket(tpm, clock, sleep) if tpm else None

    async def request_slot(self) -> None:
        """Taken before every attempt: a retried request counts against the limit like a new one."""
        if self.requests is not None:
            await self.requests.take(1)

    async def take_tokens(self, estimate: int) -> None:
        if self.tokens is not None:
            await self.tokens.take(estimate)

    def correct_tokens(self, estimate: int, actual: int) -> None:
        if self.tokens is not None:
            self.tokens.adjust(actual - estimate)
