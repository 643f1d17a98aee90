"""The concurrent part of a harvest: `concurrency` workers draining one queue of prompts.

A worker handles one prompt at a time: reserve its worst-case cost, take rate-limit allowance, ask the
teacher (with retries), journal the records (fsynced), then settle the cost. Because a worker waits for
the journal before taking the next prompt, at most `concurrency` prompts can be lost by a `kill -9`,
and exactly those are asked again on resume. A fatal error or the budget stops new requests; requests
already in flight finish and are kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from distillab.data.budget import Ledger, TokenEstimator
from distillab.data.journal import Journal
from distillab.data.limits import RateLimiter
from distillab.data.progress import HarvestProgress
from distillab.data.prompts import PromptRow
from distillab.data.records import build_records, record_id, row_input
from distillab.data.retry import RetryPolicy, call_with_retries
from distillab.errors import BudgetExceeded, DistillabError, TeacherError
from distillab.teacher.base import RequestRejected, SamplingParams, Teacher
from distillab.teacher.http import RetryableTeacherError

PER_PROMPT_REJECTIONS = frozenset({400, 413, 422})
"""Statuses that condemn one prompt (too long, bad content), not the whole harvest."""
GIVE_UP_AFTER_REJECTIONS = 10
"""If this many prompts are rejected before any succeeds, the problem is not the prompts: stop."""


@dataclass
class WorkItem:
    row: PromptRow
    missing: list[int]
    """Sample indices of this prompt not yet stored, consecutive: one request asks for all of them."""


def _runs(indices: list[int], most: int | None) -> list[list[int]]:
    """Consecutive runs of `indices`, each at most `most` long: the samples one request asks for."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1 and (most is None or len(runs[-1]) < most):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def plan_work(
    rows: list[PromptRow],
    name: str,
    params_id: dict[str, Any],
    n: int,
    done_ids: set[str],
    per_request: int | None = None,
) -> tuple[list[WorkItem], int, int]:
    """Work items for the samples not yet stored; also (already stored, duplicate prompts).

    A prompt's missing samples are split into runs of consecutive indices, at most `per_request` long:
    one request each, so sample `i` is always drawn with `seed + i` (see `Harvester._params_for`)."""
    items: list[WorkItem] = []
    seen: set[str] = set()
    skipped = duplicates = 0
    for row in rows:
        ids = [record_id(name, row_input(row), params_id, i) for i in range(n)]
        if ids[0] in seen:
            duplicates += 1
            continue
        seen.add(ids[0])
        missing = [i for i, rid in enumerate(ids) if rid not in done_ids]
        skipped += n - len(missing)
        items += [WorkItem(row, run) for run in _runs(missing, per_request)]
    return items, skipped, duplicates


@dataclass
class Harvester:
    """What the workers of one run share: teacher, limits, ledger, journal, and the run's outcome."""

    teacher: Teacher
    params: SamplingParams
    params_id: dict[str, Any]
    journal: Journal
    ledger: Ledger
    limiter: RateLimiter
    estimator: TokenEstimator
    policy: RetryPolicy
    new_records: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    error: DistillabError | None = None
    retries: int = 0

    async def run(self, items: list[WorkItem], concurrency: int, progress: HarvestProgress) -> None:
        queue = deque(items)

        async def worker() -> None:
            while queue and self.error is None:
                await self._handle(queue.popleft(), progress)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(items)) or 1)))

    def _stop(self, error: DistillabError) -> None:
        if self.error is None:
            self.error = error

    def _on_retry(self, exc: RetryableTeacherError, wait: float) -> None:
        self.retries += 1

    async def _handle(self, item: WorkItem, progress: HarvestProgress) -> None:
        row = item.row
        while item.missing and self.error is None:
            n = len(item.missing)
            prompt_estimate = self.estimator.estimate(row.input)
            completion_worst = n * self.params.max_tokens
            if row.completion is not None:  # scoring: the given completion is read, as prompt tokens
                prompt_estimate += self.estimator.estimate(row.completion)
                completion_worst = 0
            reserved = self.ledger.reserve(prompt_estimate, completion_worst)
            if reserved is None:
                self._stop(
                    BudgetExceeded(
                        f"stopping before the budget of ${self.ledger.budget_usd:g} could be exceeded: "
                        f"spent ${self.ledger.cost_usd:.4f}, and the next request ({row.where}) "
                        "could cost up to "
                        f"${self.ledger.prices.cost(prompt_estimate, completion_worst):.4f}. "
                        "Everything harvested so far is kept; rerun with a higher --budget-usd to continue"
                    )
                )
                return
            estimate = prompt_estimate + completion_worst
            await self.limiter.take_tokens(estimate)
            try:
                ask = (
                    functools.partial(self.teacher.generate, row.input, self._params_for(item), n)
                    if row.completion is None
                    else functools.partial(
                        self.teacher.score,
                        row.input,
                        row.completion,
                        self.params.top_logprobs,
                        self.params.draws,
                        self.params.seed,
                    )
                )
                generation = await call_with_retries(
                    ask,
                    self.policy,
                    before_attempt=self.limiter.request_slot,
                    on_retry=self._on_retry,
                )
            except RequestRejected as exc:
                self.ledger.settle(reserved, 0, 0)
                self.limiter.correct_tokens(estimate, 0)
                if exc.status not in PER_PROMPT_REJECTIONS:
                    self._stop(exc)
                    return
                self.failures.append({"prompt": row.where, "error": str(exc)})
                progress.advance(0, self.new_records, self._tokens(), self.ledger.cost_usd)
                if len(self.failures) >= GIVE_UP_AFTER_REJECTIONS and self.new_records == 0:
                    self._stop(
                        TeacherError(f"the first {len(self.failures)} prompts were all rejected; last: {exc}")
                    )
                return
            except TeacherError as exc:
                self.ledger.settle(reserved, 0, 0)
                self._stop(exc)
                return
            if not generation.samples:
                self.ledger.settle(reserved, generation.prompt_tokens, generation.completion_tokens)
                self._stop(TeacherError(f"{self.teacher.endpoint} answered {row.where} with no samples"))
                return
            records = build_records(row, self.teacher.name, self.params_id, item.missing, generation)
            await self.journal.append(records)
            item.missing = item.missing[len(records) :]
            completion = sum(r["usage"]["completion_tokens"] for r in records)
            self.ledger.settle(reserved, generation.prompt_tokens, completion)
            self.limiter.correct_tokens(estimate, generation.prompt_tokens + generation.completion_tokens)
            if row.completion is None:  # a score's prompt tokens include the completion
                self.estimator.observe(row.input, generation.prompt_tokens)
            self.new_records += len(records)
            progress.advance(len(records), self.new_records, self._tokens(), self.ledger.cost_usd)

    def _params_for(self, item: WorkItem) -> SamplingParams:
        """A seeded request for samples k, k+1, ... is sent seed + k: servers draw its sample j with
        seed + j (vLLM's rule, and distillab's), so sample i gets seed + i however the work was split,
        and a resumed harvest does not repeat the samples it already has."""
        first = item.missing[0]
        if self.params.seed is None or first == 0:
            return self.params
        return dataclasses.replace(self.params, seed=self.params.seed + first)

    def _tokens(self) -> int:
        return round(self.ledger.prompt_tokens) + self.ledger.completion_tokens
