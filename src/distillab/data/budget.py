"""Token estimates, the cost ledger and the spending limit.

The limit is enforced *before* a request is sent: each in-flight request reserves its worst case
(estimated prompt tokens plus `n * max_tokens` completion tokens), and a request whose reservation
would cross the budget is not sent. Without a tokenizer the prompt estimate is about 4 characters per
token, corrected upwards whenever the server's reported usage shows the text is denser than that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from distillab.teacher.base import PromptInput

PER_MESSAGE_OVERHEAD = 4
"""Tokens a chat template typically adds per message (role markers, separators)."""


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


def prompt_chars(prompt: PromptInput) -> int:
    return len(prompt) if isinstance(prompt, str) else sum(len(m["content"]) for m in prompt)


class TokenEstimator:
    """Prompt token counts from a tokenizer when we have one, else from character counts."""

    def __init__(self, tokenizer: Any = None, chars_per_token: float = 4.0):
        self.tokenizer = tokenizer
        self.chars_per_token = chars_per_token

    @property
    def method(self) -> str:
        if self.tokenizer is not None:
            return "teacher tokenizer"
        return (
            f"heuristic: ~{self.chars_per_token:.2g} characters per token (no tokenizer for an HTTP teacher)"
        )

    def estimate(self, prompt: PromptInput) -> int:
        if self.tokenizer is not None:
            if isinstance(prompt, str):
                return len(self.tokenizer(prompt)["input_ids"])
            if getattr(self.tokenizer, "chat_template", None):
                ids = self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
                return len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
            text = "\n".join(m["content"] for m in prompt)
            return len(self.tokenizer(text)["input_ids"]) + PER_MESSAGE_OVERHEAD * len(prompt)
        overhead = 0 if isinstance(prompt, str) else PER_MESSAGE_OVERHEAD * len(prompt)
        return math.ceil(prompt_chars(prompt) / self.chars_per_token) + overhead

    def observe(self, prompt: PromptInput, actual_tokens: int) -> None:
        """Learn from reported usage: if text is denser than assumed, assume so from now on."""
        if self.tokenizer is None and actual_tokens > self.estimate(prompt):
            overhead = 0 if isinstance(prompt, str) else PER_MESSAGE_OVERHEAD * len(prompt)
            self.chars_per_token = max(0.5, prompt_chars(prompt) / max(1, actual_tokens - overhead))


class Ledger:
    """Tokens and cost so far (including earlier runs into the same directory) and reservations."""

    def __init__(
        self, prices: Prices, budget_usd: float | None, prompt_tokens: float = 0.0, completion_tokens: int = 0
    ):
        self.prices = prices
        self.budget_usd = budget_usd
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.reserved_usd = 0.0

    @property
    def cost_usd(self) -> float:
        return self.prices.cost(self.prompt_tokens, self.completion_tokens)

    def reserve(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Reserve a request's worst-case cost; None if that could cross the budget."""
        worst = self.prices.cost(prompt_tokens, completion_tokens)
        if self.budget_usd is not None and self.cost_usd + self.reserved_usd + worst > self.budget_usd:
            return None
        self.reserved_usd += worst
        return worst

    def settle(self, reserved: float, prompt_tokens: float, completion_tokens: int) -> None:
        """Replace a reservation by what the request actually cost (0 tokens if it failed)."""
        self.reserved_usd = max(0.0, self.reserved_usd - reserved)
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
