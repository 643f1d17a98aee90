"""Per-account admission: the account's state (allow, throttle, degrade, block) and its rate limits.

States are set by an admin (`PUT /admin/accounts/{name}/state`) or by the detector, and live in the
store so every replica sees them. Limits are token buckets per account (`gateway.buckets`):

- requests per minute (RPM) and tokens per minute (TPM), each a bucket holding one minute's worth;
- a request costs 1 request and its *worst-case* tokens at admission (estimated prompt tokens plus
  max_tokens x n), so a client cannot overshoot TPM by asking long answers, nor by streaming them;
  when the answer reports its usage, the difference is settled (mostly refunded) as it ends;
- a refused request gets 429 with `Retry-After`: the seconds until the bucket holds enough again.

throttle multiplies both limits by `throttle_factor`; degrade keeps the limits but strips the signal a
distiller wants most (log-probabilities, several samples, long answers); block refuses with 403.
The buckets live in this process, or with `Limits.redis` in Redis, shared by every replica
(`gateway.redis_buckets`); admission does not know which.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from distillab.errors import ConfigError
from distillab.gateway.buckets import Buckets, LocalBuckets, Rates, Taken
from distillab.gateway.metrics import Metrics

DEFAULT_MAX_TOKENS = 256
"""What a request without max_tokens is charged for at admission."""
THROTTLED_RPM, THROTTLED_TPM = 6.0, 20_000.0
"""A throttled account's limits when the gateway has none."""


@dataclass
class Limits:
    rpm: float | None = None
    """Requests per minute per account (None: unlimited)."""
    tpm: float | None = None
    """Tokens per minute per account, charged at admission as prompt + max_tokens x n (None: unlimited)."""
    throttle_factor: float = 0.1
    """Share of the limits a throttled account keeps (THROTTLED_RPM/TPM where there is no limit)."""
    degrade_max_tokens: int = 64
    """Longest answer a degraded account gets."""
    redis: str | None = None
    """Redis URL (redis://host:6379/0) of the buckets every replica shares (None: this process's own)."""
    on_failure: str = "open"
    """With Redis unreachable: open (this replica's own buckets, at 1/replicas of the limits) or closed
    (429)."""
    replicas: int = 1
    """Gateway replicas sharing the limits: each one's share while Redis cannot be reached."""

    def __post_init__(self) -> None:
        problems = [
            f"--{flag} must be positive (got {value})"
            for flag, value in (("rpm", self.rpm), ("tpm", self.tpm))
            if value is not None and value <= 0
        ]
        if not 0 < self.throttle_factor <= 1:
            problems.append(f"--throttle-factor must be in (0, 1] (got {self.throttle_factor})")
        if self.degrade_max_tokens < 1:
            problems.append(f"--degrade-max-tokens must be at least 1 (got {self.degrade_max_tokens})")
        if self.on_failure not in ("open", "closed"):
            problems.append(f"--limits-on-failure must be open or closed (got {self.on_failure!r})")
        if self.replicas < 1:
            problems.append(f"--replicas must be at least 1 (got {self.replicas})")
        if self.redis is not None:
            scheme = urlsplit(self.redis).scheme
            if scheme not in ("redis", "rediss", "unix"):
                problems.append(
                    f"--redis must be a redis://, rediss:// or unix:// URL, not {scheme or 'a path'}"
                )
            elif importlib.util.find_spec("redis") is None:
                problems.append("--redis needs the redis client: pip install 'distillab[redis]'")
        if problems:
            raise ConfigError(problems)


def open_buckets(limits: Limits, metrics: Metrics, clock: Callable[[], float] = time.monotonic) -> Buckets:
    """The buckets ``limits`` ask for: Redis's when they name one, else this process's. Called on the
    event loop that will use them (a Redis client belongs to one)."""
    if limits.redis is None:
        return LocalBuckets(clock)
    from distillab.gateway.redis_buckets import RedisBuckets

    return RedisBuckets(
        limits.redis, on_failure=limits.on_failure, replicas=limits.replicas, metrics=metrics, clock=clock
    )


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    decision: str
    """allow, throttle, degrade (admitted) or block, rate_limited, limits_unavailable (refused)."""
    reason: str = ""
    retry_after: float = 0.0
    rates: Rates | None = None
    """The limits an admitted request was charged against (None: it had none)."""
    tokens: int = 0
    """Its worst-case tokens, as charged at admission."""
    taken: Taken | None = None


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
    """Decides, per request, whether an account may go ahead, and charges its buckets."""

    def __init__(self, limits: Limits, buckets: Buckets):
        self.limits = limits
        self.buckets = buckets

    def rates(self, state: str) -> Rates:
        rpm, tpm = self.limits.rpm, self.limits.tpm
        if state == "throttle":
            f = self.limits.throttle_factor
            return Rates(rpm * f if rpm else THROTTLED_RPM, tpm * f if tpm else THROTTLED_TPM)
        return Rates(rpm, tpm)

    async def check(self, account: str, state: str, tokens: int) -> Verdict:
        """Admit or refuse one request of ``tokens`` worst-case tokens from ``account`` in ``state``."""
        if state == "block":
            return Verdict(False, "block", "the account is blocked")
        reason = "" if state == "allow" else f"account state {state}"
        rates = self.rates(state)
        if not rates.rpm and not rates.tpm:
            return Verdict(True, state, reason)
        taken = await self.buckets.take(_key(account, state), rates, tokens)
        if taken.kind == "unavailable":
            return Verdict(
                False,
                "limits_unavailable",
                "the shared rate limits cannot be checked (Redis unreachable, --limits-on-failure closed)",
                retry_after=taken.wait,
            )
        if not taken.admitted:
            limit = rates.rpm if taken.kind == "rpm" else rates.tpm
            unit = "requests" if taken.kind == "rpm" else "tokens"
            return Verdict(
                False,
                "rate_limited",
                f"{taken.kind.upper()} limit of {limit:g} {unit} per minute ({state})",
                retry_after=taken.wait,
            )
        return Verdict(True, state, reason, rates=rates, tokens=tokens, taken=taken)

    def to_settle(self, verdict: Verdict, usage: Any) -> int | None:
        """The tokens an admitted request is to be charged instead of its worst case, from its answer's
        ``usage`` (prompt + completion tokens); None when there is nothing to settle: no tokens limit,
        the worst case was right, or no usage counting both (a stream whose client asked for none, an
        answer cut short), where the worst case stays charged."""
        if verdict.taken is None or verdict.rates is None or not verdict.rates.tpm:
            return None
        prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        completion = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return None
        return None if prompt + completion == verdict.tokens else prompt + completion

    async def settle(self, account: str, verdict: Verdict, used: int) -> None:
        """Charge an admitted request ``used`` tokens instead of its worst case (mostly a refund)."""
        assert verdict.taken is not None and verdict.rates is not None
        await self.buckets.settle(
            _key(account, verdict.decision), verdict.rates, verdict.tokens, used, verdict.taken
        )


def _key(account: str, state: str) -> str:
    return f"{state}:{account}"  # a state has no colon: unambiguous whatever the account's name
