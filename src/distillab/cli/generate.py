"""`distillab generate`: harvest a teacher's answers (and log-probabilities) into a dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from distillab.cli.options import option
from distillab.data.config import HarvestConfig
from distillab.errors import TeacherError
from distillab.fields import help_of

HELP = """Harvest a teacher's answers to a prompt file into a Parquet dataset (resumable).

The teacher is a model directory or any OpenAI-compatible endpoint (vLLM, SGLang,
`transformers serve`, `distillab serve`, a hosted API). It is probed once for what it returns:
top-k log-probabilities (kept, compactly) or text only. Rerun the same command after an
interruption to resume; nothing already stored is asked again.

Only distill teachers whose terms of use allow it; record them with --terms.

Examples:

\b
  distillab generate --teacher http://127.0.0.1:8000/v1 --prompts prompts.jsonl --out runs/harvest
  distillab generate --teacher runs/teacher --prompts prompts.jsonl --out runs/harvest --n 4 --temperature 0.7
  distillab generate --teacher http://127.0.0.1:8000/v1 --prompts p.jsonl --out runs/h --dry-run

\b
A hosted API, within its published limits and a spending cap:
  OPENAI_API_KEY=... distillab generate --teacher https://api.example.com/v1 --model big-1 \\
    --prompts p.parquet --out runs/h --rpm 500 --tpm 200000 \\
    --price-in 0.5 --price-out 1.5 --budget-usd 20 \\
    --terms "provider terms of 2025-01, section 4, permit distillation"
"""


def _opt(name: str, *flags: str) -> object:
    return option(HarvestConfig, name, *flags)


def generate(
    teacher: str = typer.Option(..., "--teacher", help=help_of(HarvestConfig, "teacher")),
    prompts: Path = typer.Option(..., "--prompts", help=help_of(HarvestConfig, "prompts")),
    out: Path = typer.Option(..., "--out", help=help_of(HarvestConfig, "out")),
    n: int = _opt("n", "--n"),  # type: ignore[assignment]
    temperature: float = _opt("temperature", "--temperature"),  # type: ignore[assignment]
    top_p: float = _opt("top_p", "--top-p"),  # type: ignore[assignment]
    max_tokens: int = _opt("max_tokens", "--max-tokens"),  # type: ignore[assignment]
    stop: list[str] | None = typer.Option(None, "--stop", help=help_of(HarvestConfig, "stop")),
    seed: int | None = _opt("seed", "--seed"),  # type: ignore[assignment]
    top_logprobs: int = _opt("top_logprobs", "--top-logprobs"),  # type: ignore[assignment]
    model: str | None = _opt("model", "--model"),  # type: ignore[assignment]
    api_key_env: str = _opt("api_key_env", "--api-key-env"),  # type: ignore[assignment]
    concurrency: int = _opt("concurrency", "--concurrency"),  # type: ignore[assignment]
    rpm: float | None = _opt("rpm", "--rpm"),  # type: ignore[assignment]
    tpm: float | None = _opt("tpm", "--tpm"),  # type: ignore[assignment]
    timeout: float = _opt("timeout", "--timeout"),  # type: ignore[assignment]
    max_retries: int = _opt("max_retries", "--max-retries"),  # type: ignore[assignment]
    retry_base_delay: float = _opt("retry_base_delay", "--retry-base-delay"),  # type: ignore[assignment]
    retry_max_delay: float = _opt("retry_max_delay", "--retry-max-delay"),  # type: ignore[assignment]
    price_in: float = _opt("price_in", "--price-in"),  # type: ignore[assignment]
    price_out: float = _opt("price_out", "--price-out"),  # type: ignore[assignment]
    budget_usd: float | None = _opt("budget_usd", "--budget-usd"),  # type: ignore[assignment]
    terms: str = _opt("terms", "--terms"),  # type: ignore[assignment]
    dry_run: bool = _opt("dry_run", "--dry-run"),  # type: ignore[assignment]
    overwrite: bool = _opt("overwrite", "--overwrite"),  # type: ignore[assignment]
    progress: bool = _opt("progress", "--progress/--no-progress"),  # type: ignore[assignment]
) -> None:
    from distillab.data.harvest import run_harvest  # keeps `distillab --help` fast

    config = HarvestConfig(
        teacher=teacher,
        prompts=prompts,
        out=out,
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        stop=tuple(stop or ()),
        seed=seed,
        top_logprobs=top_logprobs,
        model=model,
        api_key_env=api_key_env,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        timeout=timeout,
        max_retries=max_retries,
        retry_base_delay=retry_base_delay,
        retry_max_delay=retry_max_delay,
        price_in=price_in,
        price_out=price_out,
        budget_usd=budget_usd,
        terms=terms,
        dry_run=dry_run,
        overwrite=overwrite,
        progress=progress,
    )
    result = run_harvest(config)
    if result.estimate is not None:
        print(result.estimate.describe())
        return
    print(
        f"{result.records} records in {result.out} ({result.new_records} new, {result.skipped} already there); "
        f"tokens in {result.prompt_tokens}, out {result.completion_tokens}; cost ${result.cost_usd:.4f}"
    )
    if result.failed:
        raise TeacherError(
            f"{result.failed} prompts were rejected by the teacher (see failures in "
            f"{result.out / 'manifest.json'}); rerun the same command to retry them"
        )
