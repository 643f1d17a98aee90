"""Admission over this process's buckets (the gateway without --redis): both limits or neither, refill by
the clock, settling a worst-case charge to the answer's usage, the throttle factor, and the one-bucket
cap on a request larger than the limit. The same contract is checked against Redis in
test_redis_limits.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from distillab.errors import ConfigError
from distillab.gateway.buckets import LocalBuckets, Rates
from distillab.gateway.policy import Admission, Limits


def admit(admission: Admission, tokens: int, state: str = "allow", account: str = "a") -> Any:
    return asyncio.run(admission.check(account, state, tokens))


def settle(admission: Admission, account: str, verdict: Any, usage: Any) -> None:
    """What the gateway does as an answer ends."""
    used = admission.to_settle(verdict, usage)
    if used is not None:
        asyncio.run(admission.settle(account, verdict, used))


def test_both_limits_or_neither_and_refill_by_the_clock(clock: Any) -> None:
    admission = Admission(Limits(rpm=3, tpm=100), LocalBuckets(clock))
    assert [admit(admission, 40).allowed for _ in range(2)] == [True, True]
    refused = admit(admission, 40)  # 20 tokens left: refused, and no request taken for it
    assert (refused.decision, refused.retry_after) == ("rate_limited", pytest.approx(12.0))
    assert "TPM limit of 100 tokens per minute (allow)" in refused.reason
    assert admit(admission, 20).allowed  # the third request fits
    refused = admit(admission, 1)
    assert "RPM limit of 3" in refused.reason and refused.retry_after == pytest.approx(20.0)
    clock.now += 20  # a third of a minute: one request and 33 tokens back
    assert admit(admission, 33).allowed and not admit(admission, 1).allowed


def test_settling_replaces_the_worst_case_with_the_usage(clock: Any) -> None:
    admission = Admission(Limits(tpm=100), LocalBuckets(clock))
    first = admit(admission, 60)
    settle(admission, "a", first, {"prompt_tokens": 10, "completion_tokens": 5})  # 45 back
    assert admit(admission, 85).allowed  # 100 - 15 = 85 left
    assert not admit(admission, 1).allowed
    later = Admission(Limits(tpm=100), LocalBuckets(clock))
    charged = admit(later, 10, account="b")
    settle(later, "b", charged, {"prompt_tokens": 40, "completion_tokens": 20})  # 50 more
    assert not admit(later, 41, account="b").allowed and admit(later, 40, account="b").allowed
    unsettled = admit(later, 1, account="c")  # no usage, or half of one: the worst case stays
    for usage in (None, {}, {"completion_tokens": 0}):
        assert later.to_settle(unsettled, usage) is None
    assert admit(later, 99, account="c").allowed and not admit(later, 1, account="c").allowed


def test_throttle_factor_and_requests_larger_than_the_limit(clock: Any) -> None:
    admission = Admission(Limits(rpm=20, tpm=1000, throttle_factor=0.1), LocalBuckets(clock))
    assert admission.rates("throttle") == Rates(2, 100)
    assert [admit(admission, 500, "throttle").allowed for _ in range(2)] == [True, False]  # a full bucket
    assert admit(admission, 1, "allow").allowed  # the throttled buckets are the account's own
    assert Admission(Limits(), LocalBuckets(clock)).rates("throttle") == Rates(6.0, 20_000.0)
    assert admit(admission, 10, "block").decision == "block"


def test_limits_are_checked_together() -> None:
    with pytest.raises(ConfigError) as caught:
        Limits(rpm=0, tpm=-1, replicas=0, on_failure="maybe", redis="http://cache:6379")
    assert len(caught.value.problems) == 5
