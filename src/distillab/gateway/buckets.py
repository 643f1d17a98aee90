"""Where the gateway's rate-limit buckets live: this process (`LocalBuckets`) or Redis, shared by every
replica (`distillab.gateway.redis_buckets.RedisBuckets`). Both follow the `Buckets` protocol, so
admission (`gateway.policy.Admission`) does not know which it has.

Each account has, per state, a requests bucket and a tokens bucket, each holding one minute's worth
(`Rates`) and refilling continuously. `take` charges a request to both at once or to neither;
`settle` replaces an admitted request's worst-case tokens charge with what its answer used (a refund,
or a further charge that may leave the bucket in debt), without checking. An amount larger than a
whole bucket is charged as one full bucket at admission, so such a request is admitted when the
bucket is full instead of never.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Rates:
    """An account's limits in its current state, per minute (None: unlimited)."""

    rpm: float | None
    tpm: float | None

    def scaled(self, factor: float) -> Rates:
        return Rates(self.rpm * factor if self.rpm else self.rpm, self.tpm * factor if self.tpm else self.tpm)


@dataclass(frozen=True)
class Taken:
    """The answer of `Buckets.take`: admitted (`wait` 0), or the seconds until it would be and the limit
    that refused ("rpm", "tpm"; "unavailable": the shared buckets could not be asked and the gateway
    refuses then). `local` says the charge went to this replica's fallback buckets, not the shared ones;
    `settle` goes to the same place."""

    wait: float = 0.0
    kind: str = ""
    local: bool = False

    @property
    def admitted(self) -> bool:
        return self.wait == 0


class Buckets(Protocol):
    async def take(self, key: str, rates: Rates, tokens: float) -> Taken:
        """Charge one request of ``tokens`` to the buckets of ``key`` (an account in a state), or nothing."""

    async def settle(self, key: str, rates: Rates, worst: float, used: float, taken: Taken) -> None:
        """Charge ``used`` tokens instead of the ``worst`` charged at admission (``taken``), where it was."""

    async def start(self) -> None:
        """Get ready before the first request (connect)."""

    async def aclose(self) -> None: ...


@dataclass
class Bucket:
    """A token bucket refilled at ``rate`` per minute up to ``rate`` (one minute of burst)."""

    rate: float
    level: float = math.nan
    stamp: float = field(default_factory=time.monotonic)

    def refill(self, now: float) -> None:
        if math.isnan(self.level):
            self.level = self.rate
        self.level = min(self.rate, self.level + max(0.0, now - self.stamp) * self.rate / 60)
        self.stamp = max(self.stamp, now)

    def wait(self, amount: float) -> float:
        """Seconds until ``amount`` (at most one full bucket) is available; 0 when it is now."""
        amount = min(amount, self.rate)
        return 0.0 if self.level >= amount else (amount - self.level) * 60 / self.rate


class LocalBuckets:
    """Buckets in this process's memory: exact for one gateway process, per process behind several."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.buckets: dict[tuple[str, str], Bucket] = {}

    def _bucket(self, key: str, kind: str, rate: float, now: float) -> Bucket:
        bucket = self.buckets.get((key, kind))
        if bucket is None or bucket.rate != rate:
            bucket = self.buckets[(key, kind)] = Bucket(rate, stamp=now)
        bucket.refill(now)
        return bucket

    async def take(self, key: str, rates: Rates, tokens: float) -> Taken:
        now = self.clock()
        charges = [
            (kind, self._bucket(key, kind, rate, now), amount)
            for kind, rate, amount in (("rpm", rates.rpm, 1.0), ("tpm", rates.tpm, tokens))
            if rate
        ]
        waits = [(bucket.wait(amount), kind) for kind, bucket, amount in charges]
        longest = max(waits, default=(0.0, ""))
        if longest[0] > 0:
            return Taken(longest[0], longest[1], local=True)
        for _, bucket, amount in charges:
            bucket.level -= min(amount, bucket.rate)
        return Taken(local=True)

    async def settle(self, key: str, rates: Rates, worst: float, used: float, taken: Taken) -> None:
        if rates.tpm:
            bucket = self._bucket(key, "tpm", rates.tpm, self.clock())
            bucket.level = min(bucket.rate, bucket.level - used + min(worst, bucket.rate))

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
