"""Per-account admission: the account's state (allow, throttle, degrade, block) and its rate limits.

States are set by an admin (`PUT /admin/accounts/{name}/state`) or by the detector, and live in the
store so every replica sees them. Limits are token buckets per account and per replica:

- requests per minute (RPM) and tokens per minute (TPM), each a bucket holding one minute's worth;
- a request costs 1 request and its *worst-case* tokens at admission (estimated prompt tokens plus
  max_tokens x n), as hosted APIs count them, so a client cannot overshoot TPM by asking long answers;
- a refused request gets 429 with `Retry-After`: the seconds until the bucket holds enough again.

throttle multiplies both limits by `throttle_factor`; degrade keeps the limits but strips the signal a
distiller wants most (log-probabilities, several samples, long answers); block refuses with 403.
With several replicas each keeps its own buckets, so the effective limit is per replica.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_TOKENS = 256
"""What a request without max_tokens is charged for at admission."""
THROTTLED_RPM, THROTTLED_TPM = 6.0, 20_000.0
"""A throttled account's limits when the gateway has none."""


@dataclass
class Limits:
    rpm: float | None = None
    """Requests per minute per account (None: unlimited)."""
    tpm: float | None = None
    """Tokens per minute per account, counted at admission as prompt + max_tokens x n (None: unlimited)."""
    throttle_factor: float = 0.1
    """Share of the limits a throttled account keeps (THROTTLED_RPM/TPM where there is no limit)."""
    degrade_max_tokens: int = 64
    """Longest answer a degraded account gets."""


@dataclass
class Bucket:
    """A token bucket refilled at ``rate`` per minute up to ``rate`` (one minute of burst)."""

    rate: float
    level: float = math.nan
    stamp: float = field(default_factory=time.monotonic)

    def take(self, amount: float, now: float) -> float:
        """Take ``amount`` if available and return 0; else return seconds until it would be."""
        if math.isnan(self.level):
            self.level = self.rate
        self.level = min(self.rate, self.level + (now - self.stamp) * self.rate / 60)
        self.stamp = now
        if amount > self.rate:  # can never fit: charge a full bucket instead of refusing forever
            amount = self.rate
        if self.level >= amount:
            self.level -= amount
            return 0.0
        return (amount - self.level) * 60 / self.rate


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    decision: str
    """allow, throttle, degrade (admitted) or block, rate_limited (refused)."""
    reason: str = ""
    retry_after: float = 0.0


def estimate_tokens(body: dict[str, Any]) -> int:
    """Worst-case tokens of a request: prompt characters / 4, plus max_tokens x n."""
    text = ""
    if isinstance(body.get("messages"), list):
        text = " ".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
    elif body.get("prompt") is not None:
        text = str(body["prompt"])
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    n = body.get("n") or 1
    try:
        return len(text) // 4 + 1 + int(max_tokens) * max(1, int(n))
    except (TypeError, ValueError):
        return len(text) // 4 + 1 + DEFAULT_MAX_TOKENS


def degrade(body: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The request a degraded account gets served: no log-probabilities, one sample, short answers."""
    out = {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs", "n", "best_of")}
    for key in ("max_tokens", "max_completion_tokens"):
        if key in out or key == "max_tokens":
            asked = out.get(key)
            out[key] = (
                limits.degrade_max_tokens
                if not isinstance(asked, int)
                else min(asked, limits.degrade_max_tokens)
            )
    return out


class Admission:
    """Decides, per request, whether an account may go ahead (and the buckets that remember it)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.buckets: dict[tuple[str, str, str], Bucket] = {}

    def _rates(self, state: str) -> tuple[float | None, float | None]:
        rpm, tpm = self.limits.rpm, self.limits.tpm
        if state == "throttle":
            f = self.limits.throttle_factor
            return (rpm * f if rpm else THROTTLED_RPM), (tpm * f if tpm else THROTTLED_TPM)
        return rpm, tpm

    def check(self, account: str, state: str, tokens: int, now: float | None = None) -> Verdict:
        """Admit or refuse one request of ``tokens`` worst-case tokens from ``account`` in ``state``."""
        if state == "block":
            return Verdict(False, "block", "the account is blocked")
        now = time.monotonic() if now is None else now
        rpm, tpm = self._rates(state)
        waits = []
        for kind, rate, amount in (("rpm", rpm, 1.0), ("tpm", tpm, float(tokens))):
            if rate:
                bucket = self.buckets.setdefault((account, state, kind), Bucket(rate, stamp=now))
                waits.append((bucket.take(amount, now), kind, bucket, amount))
        refused = [(wait, kind) for wait, kind, _, _ in waits if wait > 0]
        if refused:
            for wait, _, bucket, amount in waits:  # refund what the other bucket already gave
                if wait == 0:
                    bucket.level += min(amount, bucket.rate)
            wait, kind = max(refused)
            limit = rpm if kind == "rpm" else tpm
            unit = "requests" if kind == "rpm" else "tokens"
            return Verdict(
                False,
                "rate_limited",
                f"{kind.upper()} limit of {limit:g} {unit} per minute ({state})",
                retry_after=wait,
            )
        return Verdict(True, state, "" if state == "allow" else f"account state {state}")
