"""Harvest a teacher's answers to a prompt file into a resumable, deduplicated dataset.

    result = run_harvest(HarvestConfig(teacher="http://127.0.0.1:8000/v1", prompts=Path("p.jsonl"),
                                       out=Path("runs/harvest")))

Order of work, chosen so that mistakes cost nothing: validate flags and every prompt row; probe the
teacher once; check that `out` holds no different harvest; only then create files and send requests.
Rerunning the same command resumes: stored record ids are skipped, so nothing is asked twice except
requests that were in flight when the previous run died. When every record is in, the journal is
compacted into Parquet and `manifest.json` is written last.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from distillab import __version__
from distillab.data import manifest as mf
from distillab.data.budget import Ledger, Prices, TokenEstimator
from distillab.data.config import HarvestConfig
from distillab.data.estimate import CostEstimate, dry_run
from distillab.data.journal import Journal, journal_dir
from distillab.data.limits import RateLimiter
from distillab.data.progress import HarvestProgress
from distillab.data.prompts import PromptRow, file_sha256, read_prompts
from distillab.data.records import FORMAT_VERSION
from distillab.data.retry import RetryPolicy, call_with_retries
from distillab.data.store import compact, load_done
from distillab.data.workers import Harvester, plan_work
from distillab.errors import ConfigError, DataError, TeacherError
from distillab.teacher import load_teacher
from distillab.teacher.base import Capabilities, SamplingParams, Teacher
from distillab.teacher.http import NO_DRAWS, HTTPTeacher
from distillab.teacher.local import LocalTeacher

DRAW_RULE = (
    "per position, `draws` ids drawn with replacement from the teacher's own log_softmax at temperature 1 "
    "over the full vocabulary, by a torch.Generator seeded from sha256 of 'distillab draws:{s}:{ids}' "
    "(s = seed + sample index and ids = the prompt's token ids when generating; s = seed and ids = prompt "
    "and completion ids when scoring), separate from the generator that samples the text"
)
"""How a sampled harvest's draws were made, recorded in its manifest (see `distillab.models.draws`)."""


@dataclass
class HarvestResult:
    """What a harvest run did. In a dry run only `estimate` is set."""

    out: Path
    records: int = 0
    """Records stored in `out` in total (earlier runs included)."""
    new_records: int = 0
    skipped: int = 0
    """Records of this prompt file that were already stored when the run started."""
    failed: int = 0
    """Prompts the teacher rejected (rerun to retry them)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    capabilities: Capabilities | None = None
    manifest: dict[str, Any] | None = None
    estimate: CostEstimate | None = None


def effective_params(config: HarvestConfig, caps: Capabilities) -> tuple[SamplingParams, list[str]]:
    """Sampling params adapted to what the teacher can give, and notices saying what changed."""
    if config.draws and caps.mode != "logits":
        raise ConfigError(f"--draws {config.draws}: {NO_DRAWS}")
    if config.draws and config.seed is None:
        return config.sampling_params(), [
            f"--draws {config.draws} without --seed: drawing (and sampling) with seed 0, so the draws "
            "can be reproduced"
        ]
    if caps.mode == "text":
        note = (
            "teacher gives text only: harvesting completions without log-probabilities "
            "(students can train on text, but not with distillation losses on teacher distributions)"
        )
        return config.sampling_params(top_logprobs=0, logprobs=False), [note]
    if caps.mode == "topk" and config.top_logprobs > caps.top_k:
        return config.sampling_params(top_logprobs=caps.top_k), [
            f"--top-logprobs {config.top_logprobs} is more than the teacher returns; using {caps.top_k}"
        ]
    return config.sampling_params(), []


def _redact(url: str) -> str:
    """Drop user:password from a URL before it goes into the manifest."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("localhost", "127.0.0.1", "::1")


PROBE_TOKENS = 16
"""Tokens a probe request is counted for against --tpm: a two-word prompt and at most 4 answer tokens."""


async def _probe(
    teacher: Teacher, rows: list[PromptRow], policy: RetryPolicy, limiter: RateLimiter
) -> Capabilities:
    if isinstance(teacher, HTTPTeacher):
        chat = any(not isinstance(r.input, str) for r in rows)
        kind: Literal["chat", "completion"] = "chat" if chat else "completion"

        async def counted() -> None:  # the probe's requests count against --rpm/--tpm like the harvest's
            await limiter.request_slot()
            await limiter.take_tokens(PROBE_TOKENS)

        return await call_with_retries(lambda: teacher.probe(kind, before=counted), policy)
    return await teacher.probe()


async def harvest(
    config: HarvestConfig, *, teacher: Teacher | None = None, console: Console | None = None
) -> HarvestResult:
    """Run (or resume) the harvest `config` describes. Raises `DistillabError`s; see module docstring."""
    console = console or Console(stderr=True)
    rows = read_prompts(config.prompts)
    unscored = next((r for r in rows if r.completion is None), None) if config.score else None
    if unscored is not None:
        raise DataError(
            f"{unscored.where}: no 'completion' to score (each row needs 'messages' or 'prompt', "
            "and the 'completion' whose log-probabilities the teacher is asked for)"
        )
    if config.dry_run:
        return HarvestResult(out=config.out, estimate=dry_run(config, rows))
    own = teacher is None
    if teacher is None:
        teacher = load_teacher(
            config.teacher,
            model=config.model,
            api_key_env=config.api_key_env,
            timeout=config.timeout,
            max_connections=max(config.concurrency, 1),
        )
    try:
        return await _harvest(config, rows, teacher, console)
    finally:
        if own:
            await teacher.aclose()


async def _harvest(
    config: HarvestConfig, rows: list[PromptRow], teacher: Teacher, console: Console
) -> HarvestResult:
    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    policy = RetryPolicy(config.max_retries, config.retry_base_delay, config.retry_max_delay)
    if isinstance(teacher, HTTPTeacher) and not teacher.has_api_key and not _is_loopback(teacher.endpoint):
        say(f"notice: ${teacher.api_key_env} is not set; sending requests without an API key")
    limiter = RateLimiter(config.rpm, config.tpm)
    caps = await _probe(teacher, rows, policy, limiter)
    say(f"teacher {teacher.name} at {_redact(teacher.endpoint)}: {caps.describe()}")
    if config.score and caps.mode == "text":
        raise TeacherError(
            f"{_redact(teacher.endpoint)} gives no log-probabilities: there is nothing to score"
        )
    params, notices = effective_params(config, caps)
    for notice in notices:
        say(f"notice: {notice}")
    params_id = params.as_dict()
    signal = "sampled" if params.draws else caps.mode
    identity = {"teacher": teacher.name, "params": params_id, "signal": signal}
    out = config.out
    mf.check_identity(out, identity, config.overwrite)
    done = load_done(out) if out.exists() else None
    items, skipped, duplicates = plan_work(
        rows, teacher.name, params_id, config.n, done.ids if done else set(), config.n_per_request
    )
    if duplicates:
        notices.append(f"{duplicates} prompts repeat an earlier one and were harvested once")
        say(f"notice: {notices[-1]}")
    if skipped:
        say(f"resuming: {skipped} records already stored, {sum(len(i.missing) for i in items)} to go")
    out.mkdir(parents=True, exist_ok=True)
    mf.start(out, identity)
    ledger = Ledger(
        Prices(config.price_in, config.price_out),
        config.budget_usd,
        done.prompt_tokens if done else 0.0,
        done.completion_tokens if done else 0,
    )
    journal = Journal(out)
    harvester = Harvester(
        teacher,
        params,
        params_id,
        journal,
        ledger,
        limiter,
        TokenEstimator(getattr(teacher, "tokenizer", None)),
        policy,
    )
    try:
        with HarvestProgress(console, sum(len(i.missing) for i in items), config.progress) as progress:
            await harvester.run(items, config.concurrency, progress)
    finally:
        journal.close()
    if harvester.retries:
        say(f"{harvester.retries} requests were retried after transient errors")
    if harvester.error is not None:
        raise harvester.error
    records = compact(out)
    manifest = _manifest(config, teacher, caps, identity, rows, records, harvester, notices, duplicates)
    manifest["teacher"]["tokenizer"] = mf.save_tokenizer(
        out, teacher.engine.tokenizer if isinstance(teacher, LocalTeacher) else None
    )
    mf.finish(out, manifest)
    shutil.rmtree(journal_dir(out), ignore_errors=True)
    if harvester.failures:
        say(
            f"{len(harvester.failures)} prompts were rejected by the teacher; first: "
            f"{harvester.failures[0]['error']}"
        )
    return HarvestResult(
        out=out,
        records=records,
        new_records=harvester.new_records,
        skipped=skipped,
        failed=len(harvester.failures),
        prompt_tokens=round(ledger.prompt_tokens),
        completion_tokens=ledger.completion_tokens,
        cost_usd=ledger.cost_usd,
        capabilities=caps,
        manifest=manifest,
    )


def _manifest(
    config: HarvestConfig,
    teacher: Teacher,
    caps: Capabilities,
    identity: dict[str, Any],
    rows: list[PromptRow],
    records: int,
    harvester: Harvester,
    notices: list[str],
    duplicates: int,
) -> dict[str, Any]:
    ledger = harvester.ledger
    return {
        "format_version": FORMAT_VERSION,
        "distillab_version": __version__,
        "identity": identity,
        "teacher": {
            "name": teacher.name,
            "endpoint": _redact(teacher.endpoint),
            "capabilities": {
                "mode": caps.mode,
                "top_k": caps.top_k,
                "token_ids": caps.token_ids,
                "description": caps.describe(),
            },
        },
        "params": dict(identity["params"], n=config.n),
        "mode": "score" if config.score else "generate",
        "requested_top_logprobs": config.top_logprobs,
        **(
            {"draws": {"k": config.draws, "seed": identity["params"]["seed"], "rule": DRAW_RULE}}
            if config.draws
            else {}
        ),
        "prompts": {
            "path": str(config.prompts.resolve()),
            "hash": file_sha256(config.prompts),
            "count": len(rows),
            "duplicates": duplicates,
        },
        "counts": {
            "prompts": len(rows),
            "records": records,
            "new_records": harvester.new_records,
            "failed": len(harvester.failures),
        },
        "tokens": {"prompt": round(ledger.prompt_tokens), "completion": ledger.completion_tokens},
        "cost": {
            "usd": round(ledger.cost_usd, 6),
            "price_in_per_mtok": config.price_in,
            "price_out_per_mtok": config.price_out,
            "budget_usd": config.budget_usd,
        },
        "limits": {"concurrency": config.concurrency, "rpm": config.rpm, "tpm": config.tpm},
        "terms": config.terms,
        "notices": notices,
        "failures": harvester.failures[:20],
        "complete": not harvester.failures,
        "created": mf.started_at(config.out),
        "finished": mf.now_iso(),
    }


def run_harvest(
    config: HarvestConfig, *, teacher: Teacher | None = None, console: Console | None = None
) -> HarvestResult:
    """Synchronous `harvest` for scripts and the CLI."""
    return cast(HarvestResult, asyncio.run(harvest(config, teacher=teacher, console=console)))
