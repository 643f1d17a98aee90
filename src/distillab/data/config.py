"""`HarvestConfig`: every option of `distillab generate`, documented and validated in one place.

`HarvestSettings`, its base, holds what any command asking a teacher through the harvest machinery
shares (teacher, sampling, limits, retries, prices, budget, terms); `prompts synthesize` builds on it too.

The CLI builds its flags' help and defaults from the field metadata here, so the two cannot drift.
All problems are collected and reported together, not one per run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from distillab.data.prompts import SUFFIXES
from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f
from distillab.teacher import is_local_model, is_url
from distillab.teacher.base import SamplingParams
from distillab.teacher.http import NO_DRAWS

MAX_DRAWS = 255
"""Draws per position are counted in one byte on disk."""


@dataclass
class HarvestSettings:
    """Which teacher to ask, how to sample, how fast, and for how much money: what every command that
    asks a teacher through the harvest machinery shares (`generate`, `prompts synthesize`)."""

    teacher: str = _f(
        "",
        "Teacher: an OpenAI-compatible base URL (http://host:port/v1), a model directory or a .gguf file.",
    )
    temperature: float = _f(1.0, "Sampling temperature, 0 to 2.")
    top_p: float = _f(1.0, "Nucleus sampling probability mass, in (0, 1].")
    max_tokens: int = _f(256, "Most completion tokens per sample.")
    stop: tuple[str, ...] = _f((), "Stop sequence (repeat the flag for several).")
    seed: int | None = _f(None, "Sampling seed, where the server supports one.")
    model: str | None = _f(None, "Server-side model id (default: the first one the server lists).")
    api_key_env: str = _f("OPENAI_API_KEY", "Environment variable holding the API key (never stored).")
    concurrency: int = _f(8, "Requests in flight at once.")
    rpm: float | None = _f(None, "Provider's requests-per-minute limit to stay under.")
    tpm: float | None = _f(None, "Provider's tokens-per-minute limit to stay under.")
    timeout: float = _f(120.0, "Seconds to wait for one answer before retrying.")
    max_retries: int = _f(6, "Retries of a request after 429, 5xx, timeouts or connection errors.")
    retry_base_delay: float = _f(0.5, "Seconds; first backoff cap, doubling per retry (full jitter).")
    retry_max_delay: float = _f(60.0, "Seconds; longest backoff (a server's Retry-After may ask for more).")
    price_in: float = _f(0.0, "USD per million prompt tokens.")
    price_out: float = _f(0.0, "USD per million completion tokens.")
    budget_usd: float | None = _f(None, "Stop before total cost (all runs into --out) could exceed this.")
    terms: str = _f("", "Note on the teacher's terms of use, recorded verbatim in the manifest.")
    overwrite: bool = _f(False, "Replace what --out holds from a run with a different teacher or settings.")
    progress: bool = _f(True, "Show a progress bar.")

    def problems(self) -> Problems:
        """Every invalid value, each naming its flag."""
        p = Problems()
        need = p.need

        need(bool(self.teacher), "--teacher is required (a URL, a model directory or a .gguf file)")
        if self.teacher and not self.teacher.startswith(("http://", "https://")):
            need(
                is_local_model(self.teacher),
                f"--teacher {self.teacher!r} is neither an http(s) URL, an existing model directory "
                "nor a .gguf file",
            )
        need(0.0 <= self.temperature <= 2.0, f"--temperature must be in [0, 2] (got {self.temperature})")
        need(0.0 < self.top_p <= 1.0, f"--top-p must be in (0, 1] (got {self.top_p})")
        need(self.max_tokens >= 1, f"--max-tokens must be at least 1 (got {self.max_tokens})")
        need(all(self.stop), "--stop sequences must not be empty")
        need(self.model is None or bool(self.model), "--model must not be empty")
        need(bool(self.api_key_env), "--api-key-env must name an environment variable")
        need(self.concurrency >= 1, f"--concurrency must be at least 1 (got {self.concurrency})")
        for flag, value in (("--rpm", self.rpm), ("--tpm", self.tpm), ("--budget-usd", self.budget_usd)):
            need(
                value is None or (math.isfinite(value) and value > 0),
                f"{flag} must be positive (got {value})",
            )
        need(self.timeout > 0, f"--timeout must be positive (got {self.timeout})")
        need(self.max_retries >= 0, f"--max-retries must be 0 or more (got {self.max_retries})")
        need(
            self.retry_base_delay >= 0, f"--retry-base-delay must be 0 or more (got {self.retry_base_delay})"
        )
        need(self.retry_max_delay >= 0, f"--retry-max-delay must be 0 or more (got {self.retry_max_delay})")
        need(self.price_in >= 0, f"--price-in must be 0 or more (got {self.price_in})")
        need(self.price_out >= 0, f"--price-out must be 0 or more (got {self.price_out})")
        need(
            self.budget_usd is None or self.price_in > 0 or self.price_out > 0,
            "--budget-usd needs --price-in and/or --price-out to know what requests cost",
        )
        return p


@dataclass
class HarvestConfig(HarvestSettings):
    """What to ask which teacher, how fast, and for how much money."""

    prompts: Path = _f(Path(), "Prompt file: .jsonl, .csv or .parquet with 'messages' or 'prompt' per row.")
    out: Path = _f(Path(), "Output directory (Parquet records, manifest.json, resume journal).")
    n: int = _f(1, "Samples per prompt (sent as the API's n; one record per sample).")
    n_per_request: int | None = _f(
        None,
        "Most samples of one prompt asked for in one request; the rest go in further requests, "
        "in parallel (default: all --n in one request).",
    )
    top_logprobs: int = _f(
        20, "Alternatives per token to keep (clamped to what the teacher returns; 0: none)."
    )
    draws: int = _f(
        0,
        "Sampled signal: draw this many ids per token from a local teacher's full distribution "
        "(temperature 1) and keep them with their counts instead of the --top-logprobs alternatives: "
        "unbiased forward-KL distillation in ~10-40 bytes per token; 12 is a good value. The draws "
        "are seeded with --seed (0 if not given). 0: off.",
    )
    score: bool = _f(
        False,
        "Score each row's given 'completion' instead of sampling: the teacher's log-probabilities of it "
        "(what `distillab score` does).",
    )
    dry_run: bool = _f(
        False,
        "Estimate tokens and cost without calling the teacher (into a partly harvested "
        "--out: what a rerun would still ask for).",
    )

    def __post_init__(self) -> None:
        self.prompts = Path(self.prompts)
        self.out = Path(self.out)
        self.stop = tuple(self.stop)
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def problems(self) -> Problems:
        """Every invalid value, each naming its flag."""
        p = super().problems()
        need = p.need
        need(
            self.prompts.suffix.lower() in SUFFIXES,
            f"--prompts {str(self.prompts)!r} must end in one of {', '.join(SUFFIXES)}",
        )
        need(self.prompts.is_file(), f"--prompts {str(self.prompts)!r}: file not found")
        need(str(self.out) not in ("", "."), "--out is required (a new or harvest directory)")
        need(not self.out.is_file(), f"--out {str(self.out)!r} is a file, not a directory")
        need(self.n >= 1, f"--n must be at least 1 (got {self.n})")
        need(not self.score or self.n == 1, "--n must be 1 when scoring given completions")
        need(
            self.n_per_request is None or self.n_per_request >= 1,
            f"--n-per-request must be at least 1 (got {self.n_per_request})",
        )
        need(self.top_logprobs >= 0, f"--top-logprobs must be 0 or more (got {self.top_logprobs})")
        need(0 <= self.draws <= MAX_DRAWS, f"--draws must be in [0, {MAX_DRAWS}] (got {self.draws})")
        need(not (self.draws and is_url(self.teacher)), f"--draws {self.draws}: {NO_DRAWS}")
        return p

    def sampling_params(self, top_logprobs: int | None = None, logprobs: bool = True) -> SamplingParams:
        """Sampling params as sent; `top_logprobs`/`logprobs` after the capability probe's verdict.

        Scoring samples nothing: temperature 0 and max_tokens 0 say so in the records and the identity.
        Draws replace the top-k alternatives, and always have a seed (0 when --seed is not given), so
        that they can be drawn again."""
        k = self.top_logprobs if top_logprobs is None else top_logprobs
        k = 0 if self.draws else k
        seed = self.seed if self.seed is not None or not self.draws else 0
        if self.score:
            return SamplingParams(
                temperature=0.0,
                max_tokens=0,
                seed=seed if self.draws else None,
                logprobs=logprobs,
                top_logprobs=k,
                draws=self.draws,
            )
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=self.stop,
            seed=seed,
            logprobs=logprobs,
            top_logprobs=k,
            draws=self.draws,
        )
