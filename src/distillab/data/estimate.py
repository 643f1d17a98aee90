"""`--dry-run`: what a harvest would cost, without sending anything to the teacher.

Prompt tokens come from the teacher's own tokenizer when the teacher is a local directory, otherwise
from a ~4 characters/token heuristic (and the output says which). Completion tokens are the worst case,
`n * max_tokens` per prompt, so the cost shown is an upper bound for completions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillab.data.budget import Prices, TokenEstimator
from distillab.data.config import HarvestConfig
from distillab.data.prompts import PromptRow


@dataclass(frozen=True)
class CostEstimate:
    """Upper-bound tokens and cost of harvesting a prompt file."""

    prompts: int
    records: int
    prompt_tokens: int
    max_completion_tokens: int
    max_cost_usd: float
    method: str
    """How prompt tokens were counted (tokenizer or heuristic)."""

    def describe(self) -> str:
        return (f"dry run: {self.prompts} prompts -> {self.records} records; prompt tokens ~{self.prompt_tokens} "
                f"({self.method}); completion tokens at most {self.max_completion_tokens}; "
                f"cost at most ${self.max_cost_usd:.4f}. Nothing was sent to the teacher.")


def _local_tokenizer(teacher: str) -> Any:
    if teacher.startswith(("http://", "https://")) or not Path(teacher).is_dir():
        return None
    from transformers import AutoTokenizer  # only a local teacher's dry run pays for this import

    return AutoTokenizer.from_pretrained(teacher)


def estimate_cost(config: HarvestConfig, rows: list[PromptRow]) -> CostEstimate:
    """Upper-bound tokens and cost of harvesting `rows` with `config`."""
    estimator = TokenEstimator(_local_tokenizer(config.teacher))
    prompt_tokens = sum(estimator.estimate(r.input) for r in rows)
    completion = len(rows) * config.n * config.max_tokens
    return CostEstimate(
        prompts=len(rows), records=len(rows) * config.n, prompt_tokens=prompt_tokens,
        max_completion_tokens=completion,
        max_cost_usd=Prices(config.price_in, config.price_out).cost(prompt_tokens, completion),
        method=estimator.method,
    )
