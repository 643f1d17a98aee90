"""`AttributionConfig`: every option of `distillab prove attribution`, documented and validated in one place.

Kept apart from the test code so that the CLI can build its flags from it without importing numpy or scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.data.prompts import SUFFIXES
from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f
from distillab.teacher import is_local_model, is_url

DEFAULT_PROMPTS = 50
"""Prompts of the default set: paragraph continuations from the Python docs (the tiny world's text task)."""


@dataclass
class AttributionConfig:
    """Which suspect to compare with which references, how many samples, and where to write the evidence."""

    suspect: str = _f("", "The suspect model: a model directory, GGUF file or OpenAI-compatible base URL.")
    references: tuple[str, ...] = _f(
        (),
        "Reference models (directory, GGUF file or URL), repeat the flag: the first is "
        "the candidate teacher, any further ones are controls.",
    )
    out: Path = _f(Path(), "Output directory: evidence.json, evidence.html and every sample.")
    prompts: Path | None = _f(
        None,
        "Prompt file (.jsonl, .csv, .parquet; 'messages' or 'prompt' per row). "
        "Default: 50 paragraph-continuation prompts from the Python docs.",
    )
    samples_per_prompt: int = _f(10, "Completions per prompt and model (at least 2).")
    temperature: float = _f(
        1.0, "Sampling temperature, the same for every model (> 0: the test compares distributions)."
    )
    max_tokens: int = _f(50, "Most tokens per completion.")
    kernel_chars: int = _f(200, "Characters of each completion the Hamming kernel compares (L).")
    permutations: int = _f(1000, "Random permutations for the equality test's p-value.")
    alpha: float = _f(0.05, "Significance level the verdicts use.")
    seed: int = _f(0, "Seed of the permutations (the samples themselves are unseeded).")
    concurrency: int = _f(8, "Requests in flight at once per model.")
    api_key_env: str = _f("OPENAI_API_KEY", "Environment variable holding the API key for URL models.")
    max_retries: int = _f(6, "Retries of a request after 429, 5xx, timeouts or connection errors.")
    timeout: float = _f(120.0, "Seconds to wait for one answer before retrying.")
    progress: bool = _f(True, "Show progress bars.")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.prompts = None if self.prompts is None else Path(self.prompts)
        self.references = tuple(self.references)
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def problems(self) -> list[str]:
        """Every invalid value, each naming its flag."""
        p = Problems()
        need = p.need

        need(bool(self.suspect), "--suspect is required (a model directory or a base URL)")
        need(bool(self.references), "--reference is required (at least one model directory or base URL)")
        for flag, model in [("--suspect", self.suspect), *(("--reference", r) for r in self.references)]:
            if model:
                need(
                    is_url(model) or is_local_model(model),
                    f"{flag} {model!r} is neither an http(s) URL nor a model directory or GGUF file",
                )
        need(len(set(self.references)) == len(self.references), "--reference: the same model is given twice")
        if self.prompts is not None:
            need(
                self.prompts.suffix.lower() in SUFFIXES,
                f"--prompts {str(self.prompts)!r} must end in one of {', '.join(SUFFIXES)}",
            )
            need(self.prompts.is_file(), f"--prompts {str(self.prompts)!r}: file not found")
        need(str(self.out) not in ("", "."), "--out is required (a new or earlier attribution directory)")
        need(not self.out.is_file(), f"--out {str(self.out)!r} is a file, not a directory")
        need(
            self.samples_per_prompt >= 2,  # mmd.MIN_SAMPLES
            "--samples-per-prompt must be at least 2: the test compares completions of the "
            f"same prompt (got {self.samples_per_prompt})",
        )
        need(0.0 < self.temperature <= 2.0, f"--temperature must be in (0, 2] (got {self.temperature})")
        need(self.max_tokens >= 1, f"--max-tokens must be at least 1 (got {self.max_tokens})")
        need(self.kernel_chars >= 1, f"--kernel-chars must be at least 1 (got {self.kernel_chars})")
        need(self.permutations >= 99, f"--permutations must be at least 99 (got {self.permutations})")
        need(0.0 < self.alpha < 1.0, f"--alpha must be in (0, 1) (got {self.alpha})")
        need(self.concurrency >= 1, f"--concurrency must be at least 1 (got {self.concurrency})")
        need(self.max_retries >= 0, f"--max-retries must be 0 or more (got {self.max_retries})")
        need(self.timeout > 0, f"--timeout must be positive (got {self.timeout})")
        return p
