"""`EvalConfig`: every option of `distillab eval`, documented and validated in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import documented as _f


@dataclass
class EvalConfig:
    """Which models to evaluate on which task, and where to write the report."""

    model: str = _f("", "The model to evaluate: a model directory or an OpenAI-compatible base URL.")
    out: Path = _f(Path(), "Output directory: report.json, report.html and the models' answers.")
    task: str = _f(
        "arith",
        "Built-in task (arith, text) or a .jsonl file with 'messages' or 'prompt' and 'answer' per line.",
    )
    checker: str | None = _f(
        None,
        "How answers are checked: exact, numeric, regex or module:function "
        "(default: numeric for arith, exact for files).",
    )
    teacher: str | None = _f(
        None, "Teacher (directory or URL) to compare with: accuracy, answer and token agreement, KL."
    )
    baseline: str | None = _f(None, "Another model to show beside it, e.g. the student before training.")
    data: Path | None = _f(
        None,
        "Harvest directory the model was trained on, for its size and cost "
        "(default: read from the model's distillab_train.json).",
    )
    n: int = _f(200, "Task items to evaluate (the first N).")
    max_tokens: int = _f(256, "Most tokens per answer.")
    top_logprobs: int = _f(20, "Teacher alternatives per token kept for the KL (0: agreement only).")
    speed_requests: int = _f(16, "Sequential requests timed per model for tokens/s and latency (0: skip).")
    concurrency: int = _f(8, "Requests in flight while answering.")
    api_key_env: str = _f("OPENAI_API_KEY", "Environment variable holding the API key for URL models.")
    seed: int = _f(0, "Seed for built-in task items.")
    progress: bool = _f(True, "Show progress bars.")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        problems = []
        if not self.model:
            problems.append("model: required (a model directory or a base URL)")
        if self.n < 1:
            problems.append(f"n: must be >= 1, got {self.n}")
        if self.max_tokens < 1:
            problems.append(f"max_tokens: must be >= 1, got {self.max_tokens}")
        if not 0 <= self.top_logprobs <= 20:
            problems.append(f"top_logprobs: must be in 0..20, got {self.top_logprobs}")
        if self.speed_requests < 0:
            problems.append(f"speed_requests: must be >= 0, got {self.speed_requests}")
        if self.concurrency < 1:
            problems.append(f"concurrency: must be >= 1, got {self.concurrency}")
        if problems:
            raise ConfigError(problems)
