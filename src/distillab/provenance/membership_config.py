"""`MembershipConfig`: every option of `distillab prove membership`, documented and validated in one place.

Kept free of torch, numpy and scipy so the CLI can build its flags from it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f


@dataclass
class MembershipConfig:
    """Which suspect to test against which served and fresh answers, and where to write the evidence."""

    suspect: str = _f("", "The suspect model's directory (its weights: the test reads its probabilities).")
    served: Path = _f(Path(), "The answers that were served: a harvest directory, or a gateway request-log "  # noqa: RUF009
                              "export (`distillab logs export`, .jsonl or .parquet), e.g. one account's.")
    alternatives: Path = _f(Path(), "Fresh answers to the same prompts from the same model with the same "  # noqa: RUF009
                                    "settings (a harvest directory: `distillab generate --n 4`).")
    out: Path = _f(Path(), "Output directory: evidence.json and evidence.html.")  # noqa: RUF009
    batch_size: int = _f(8, "Answers per forward pass.")
    max_length: int = _f(512, "Tokens per answer with its prompt (longer answers are cut; longer prompts skipped).")
    device: str = _f("auto", "cpu, cuda, cuda:N or auto.")
    alpha: float = _f(0.05, "Significance level the verdict uses.")

    def __post_init__(self) -> None:
        for name in ("served", "alternatives", "out"):
            setattr(self, name, Path(getattr(self, name)))
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def problems(self) -> list[str]:
        """Every invalid value, each naming its flag."""
        p = Problems()
        need = p.need
        need(bool(self.suspect), "--suspect is required (the suspect model's directory)")
        need(not self.suspect or Path(self.suspect).is_dir(),
             f"--suspect {self.suspect}: not a model directory (this test needs the suspect's weights)")
        for name in ("served", "alternatives"):
            value = getattr(self, name)
            need(value != Path() and value.exists(), f"--{name} {value}: not found")
        need(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        need(self.max_length >= 2, f"--max-length must be at least 2, got {self.max_length}")
        need(0 < self.alpha < 1, f"--alpha must be in (0, 1), got {self.alpha}")
        return p
