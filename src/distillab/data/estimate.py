"""`--dry-run`: what a harvest would cost, without sending anything to the teacher.

Prompt tokens come from the teacher's own tokenizer when the teacher is a local directory, otherwise
from a ~4 characters/token heuristic (and the output says which). Completion tokens are the worst case,
`n * max_tokens` per prompt, so the cost shown is an upper bound for completions. Into an output
directory that already holds part of the harvest, only what a rerun would still ask for is estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    stored: int = 0
    """Records already in the output directory (a resumed harvest), left out of the estimate."""

    def describe(self) -> str:
        resumed = f" still to harvest ({self.stored} already stored)" if self.stored else ""
        return (f"dry run: {self.prompts} prompts -> {self.records} records{resumed}; prompt tokens "
                f"~{self.prompt_tokens} ({self.method}); completion tokens at most {self.max_completion_tokens}; "
                f"cost at most ${self.max_cost_usd:.4f}. Nothing was sent to the teacher.")


def _local_tokenizer(teacher: str) -> Any:
    if teacher.startswith(("http://", "https://")) or not Path(teacher).is_dir():
        return None
    from transformers import AutoTokenizer  # only a local teacher's dry run pays for this import

    return AutoTokenizer.from_pretrained(teacher)


def estimate_cost(config: HarvestConfig, rows: list[PromptRow], missing: Sequence[int] | None = None,
                  stored: int = 0) -> CostEstimate:
    """Upper-bound tokens and cost of harvesting `rows` with `config`: all `n` samples of each, or `missing[i]`
    of row i (a resumed harvest, with `stored` records already in); one request per prompt."""
    counts = [config.n] * len(rows) if missing is None else list(missing)
    todo = [(row, k) for row, k in zip(rows, counts) if k]
    estimator = TokenEstimator(_local_tokenizer(config.teacher)) if todo else None
    prompt_tokens = sum(estimator.estimate(row.input) for row, _ in todo) if estimator else 0
    records = sum(k for _, k in todo)
    completion = records * config.max_tokens
    return CostEstimate(
        prompts=len(todo), records=records, prompt_tokens=prompt_tokens, max_completion_tokens=completion,
        max_cost_usd=Prices(config.price_in, config.price_out).cost(prompt_tokens, completion),
        method=estimator.method if estimator else "nothing left to harvest", stored=stored,
    )
