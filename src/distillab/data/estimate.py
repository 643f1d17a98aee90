"""`--dry-run`: what a harvest would cost, without sending anything to the teacher.

Prompt tokens come from the teacher's own tokenizer when the teacher is a local directory, otherwise
from a ~4 characters/token heuristic (and the output says which). Completion tokens are the worst case,
`n * max_tokens` per prompt, so the cost shown is an upper bound for completions. Into an output
directory that already holds part of the harvest, only what a rerun would still ask for is estimated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillab.data import manifest as mf
from distillab.data.budget import Prices, TokenEstimator
from distillab.data.config import HarvestConfig
from distillab.data.prompts import PromptRow
from distillab.data.store import load_done
from distillab.data.workers import WorkItem, plan_work
from distillab.teacher import is_url


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
    """Records of this prompt file already in the output directory (a resumed harvest), not estimated."""
    note: str = ""

    def describe(self) -> str:
        resumed = f" still to harvest ({self.stored} already stored)" if self.stored else ""
        return (
            f"dry run: {self.note}{self.prompts} prompts -> {self.records} records{resumed}; prompt tokens "
            f"~{self.prompt_tokens} ({self.method}); completion tokens at most {self.max_completion_tokens}; "
            f"cost at most ${self.max_cost_usd:.4f}. Nothing was sent to the teacher."
        )


def _local_tokenizer(teacher: str) -> Any:
    if teacher.startswith(("http://", "https://")) or not (
        Path(teacher).is_dir() or Path(teacher).suffix.lower() == ".gguf"
    ):
        return None
    from distillab.models.load import load_tokenizer  # only a local teacher's dry run pays for this import

    return load_tokenizer(teacher)


PROBED = ("logprobs", "top_logprobs")
"""Sampling params the capability probe may lower (a text-only teacher, a smaller top-k than asked)."""


def dry_run(config: HarvestConfig, rows: list[PromptRow]) -> CostEstimate:
    """What harvesting `rows` into `config.out` would still cost: everything, or, into a directory holding
    part of this harvest (a rerun would resume it), only the samples not yet stored. Each prompt counts
    once however often it repeats, as the harvest asks it once."""
    identity = mf.stored_identity(config.out) if config.out.is_dir() else None
    note = ""
    if identity is not None:
        other = _differs(identity, config)
        if other is None:
            items, stored, _ = plan_work(
                rows,
                identity["teacher"],
                identity["params"],
                config.n,
                load_done(config.out).ids,
                config.n_per_request,
            )
            unchecked = config.model is None and is_url(config.teacher)
            return estimate_cost(
                config,
                items,
                stored=stored,
                note=(
                    f"assuming the endpoint still serves {identity['teacher']} (--model would check). "
                    if unchecked
                    else ""
                ),
            )
        note = (
            f"{config.out} holds a harvest with another {other}: a rerun "
            + ("starts it over" if config.overwrite else "is refused without --overwrite")
            + ". "
        )
    items, _, _ = plan_work(rows, "", {}, config.n, set(), config.n_per_request)
    return estimate_cost(config, items, note=note)


def _differs(identity: dict[str, Any], config: HarvestConfig) -> str | None:
    """What makes a rerun of `config` into a directory of `identity` refuse (or start over), as
    `manifest.check_identity` would see it after the probe; None when it would resume. An endpoint's
    model id is only known here when --model names it."""
    name = config.model or (None if is_url(config.teacher) else Path(config.teacher).name)
    if name is not None and name != identity["teacher"]:
        return f"teacher ({identity['teacher']})"
    stored, wanted = identity["params"], config.sampling_params().as_dict()
    changed = [k for k, v in wanted.items() if k not in PROBED and stored.get(k) != v]
    # The probe only lowers top_logprobs (to what the server returns), or turns log-probabilities off.
    if identity.get("signal") != "text" and stored.get("top_logprobs", 0) > config.top_logprobs:
        changed.append("top_logprobs")
    return (
        f"{', '.join(changed)} ({', '.join(f'{k}={stored.get(k)!r}' for k in changed)})" if changed else None
    )


def estimate_cost(
    config: HarvestConfig, items: list[WorkItem], *, stored: int = 0, note: str = ""
) -> CostEstimate:
    """Upper-bound tokens and cost of the requests for `items` (one request each: a prompt pays its
    tokens once per request)."""
    estimator = TokenEstimator(_local_tokenizer(config.teacher)) if items else None
    prompt_tokens = sum(estimator.estimate(item.row.input) for item in items) if estimator else 0
    records = sum(len(item.missing) for item in items)
    completion = records * config.max_tokens
    return CostEstimate(
        prompts=len({id(item.row) for item in items}),
        records=records,
        prompt_tokens=prompt_tokens,
        max_completion_tokens=completion,
        max_cost_usd=Prices(config.price_in, config.price_out).cost(prompt_tokens, completion),
        method=estimator.method if estimator else "nothing left to harvest",
        stored=stored,
        note=note,
    )
