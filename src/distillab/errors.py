"""The one exception tree. Library code raises these; the CLI prints the message and exits 1."""

from __future__ import annotations


class DistillabError(Exception):
    """Base of every error distillab raises on purpose (bad input, unreachable teacher, ...)."""


class ConfigError(DistillabError):
    """Invalid flags or config values. Carries every problem found, not just the first."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(
            "; ".join(self.problems)
            if len(self.problems) == 1
            else "invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


class DataError(DistillabError):
    """Malformed input data: names the file and row (line) where it can."""


class TeacherError(DistillabError):
    """The teacher could not be reached or answered in a way we cannot use."""


class ModelError(DistillabError):
    """A model directory is missing, unreadable, or not a causal LM."""


class RequestError(DistillabError):
    """A request a model or server cannot serve as asked: bad field value, unknown model, prompt too long.

    Carries what an OpenAI-style error response needs (`distillab.openai_wire.errors.error_body`)."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int = 400,
        code: str | None = None,
        type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.code = code
        self.type = type


class StoreError(DistillabError):
    """The gateway's database failed under a running gateway (gone, full, locked too long)."""


class BudgetExceeded(DistillabError):
    """Stopping before a spending limit would be crossed."""
