"""`MembershipConfig`: every option of `distillab prove membership`, documented and validated in one place.

Kept free of torch, numpy and scipy so the CLI can build its flags from it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f
from distillab.teacher import is_local_model


@dataclass
class MembershipConfig:
    """Which suspect to test against which served and fresh answers, and where to write the evidence."""

    suspect: str = _f("", "The suspect model: a directory or GGUF file (the test reads its probabilities).")
    served: Path = _f(
        Path(),
        "The answers that were served: a harvest directory, or a gateway request-log "
        "export (`distillab logs export`, .jsonl or .parquet), e.g. one account's.",
    )
    alternatives: Path | None = _f(
        None,
        "Fresh answers to the same prompts from the same model with the same "
        "settings (a harvest directory: `distillab generate --n 4`). Or --teacher.",
    )
    teacher: str | None = _f(
        None,
        "Instead of --alternatives: the model that served the answers (its "
        "OpenAI-compatible URL or directory), asked here for --samples fresh answers "
        "to each served prompt with --temperature and --max-tokens.",
    )
    samples: int = _f(4, "With --teacher: fresh answers per served prompt.")
    temperature: float | None = _f(
        None, "With --teacher (required): the temperature the answers were served with."
    )
    max_tokens: int | None = _f(
        None, "With --teacher (required): the max_tokens the answers were served with."
    )
    concurrency: int = _f(8, "With --teacher: requests in flight at once.")
    api_key_env: str = _f(
        "OPENAI_API_KEY",
        "With --teacher: environment variable holding its API key (for "
        "per-account watermark keys: the key of the account that was served).",
    )
    max_retries: int = _f(6, "With --teacher: retries after 429, 5xx, timeouts or connection errors.")
    timeout: float = _f(120.0, "With --teacher: seconds to wait for one answer before retrying.")
    progress: bool = _f(True, "Show progress.")
    out: Path = _f(Path(), "Output directory: evidence.json and evidence.html.")
    batch_size: int = _f(8, "Answers per forward pass.")
    max_length: int = _f(
        512, "Tokens per answer with its prompt (longer answers are cut; longer prompts skipped)."
    )
    device: str = _f("auto", "cpu, cuda, cuda:N or auto.")
    alpha: float = _f(0.05, "Significance level the verdict uses.")

    def __post_init__(self) -> None:
        for name in ("served", "alternatives", "out"):
            value = getattr(self, name)
            setattr(self, name, None if value is None else Path(value))
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def problems(self) -> list[str]:
        """Every invalid value, each naming its flag."""
        p = Problems()
        need = p.need
        need(bool(self.suspect), "--suspect is required (the suspect model's directory)")
        need(
            not self.suspect or is_local_model(self.suspect),
            f"--suspect {self.suspect}: not a model directory or GGUF file (the test needs its weights)",
        )
        need(self.served != Path() and self.served.exists(), f"--served {self.served}: not found")
        need(
            (self.alternatives is None) != (self.teacher is None),
            "give one of --alternatives (fresh answers already sampled) and --teacher (sample them now)",
        )
        need(
            self.alternatives is None or self.alternatives.exists(),
            f"--alternatives {self.alternatives}: not found",
        )
        if self.teacher is not None:
            need(
                self.temperature is not None and self.max_tokens is not None,
                "--teacher needs --temperature and --max-tokens: the settings the answers were served with "
                "(the fresh answers must be drawn the same way)",
            )
            need(
                self.temperature is None or self.temperature >= 0,
                f"--temperature must be >= 0, got {self.temperature}",
            )
            need(
                self.max_tokens is None or self.max_tokens >= 1,
                f"--max-tokens must be at least 1, got {self.max_tokens}",
            )
            need(self.samples >= 1, f"--samples must be at least 1, got {self.samples}")
            need(self.concurrency >= 1, f"--concurrency must be at least 1, got {self.concurrency}")
            need(self.max_retries >= 0, f"--max-retries must be >= 0, got {self.max_retries}")
            need(self.timeout > 0, f"--timeout must be positive (got {self.timeout})")
        need(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        need(self.max_length >= 2, f"--max-length must be at least 2, got {self.max_length}")
        need(0 < self.alpha < 1, f"--alpha must be in (0, 1), got {self.alpha}")
        return p
