"""What every simulated account has in common: its request times and a method writing its next request."""

from __future__ import annotations

from random import Random
from typing import Any, NamedTuple

import numpy as np

from distillab.detect.simulate.identity import Account

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"


class Request(NamedTuple):
    endpoint: str
    model: str
    messages: list[dict[str, str]] | None
    prompt: str | None
    params: dict[str, Any]
    reply: str
    """The (synthetic) text of the first choice."""


class Actor:
    """An account plus its behaviour. `times` are seconds from the period start, sorted."""

    def __init__(self, account: Account, times: np.ndarray, r: Random):
        self.account = account
        self.times = times
        self.r = r
        account.ms_per_token = 12.0 + 16.0 * r.random()

    def request(self, ts: float, ok: bool) -> Request:
        """The request sent at `ts` (seconds from the start); `ok` says whether it will be answered."""
        raise NotImplementedError


def chat_request(model: str, messages: list[dict[str, str]], params: dict[str, Any], reply: str) -> Request:
    return Request(CHAT, model, messages, None, params, reply)


def user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


def system(content: str) -> dict[str, str]:
    return {"role": "system", "content": content}


def assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}
