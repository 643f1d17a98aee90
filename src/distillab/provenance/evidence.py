"""One statistical test's result, stated so that a non-specialist can follow it.

Every prove command (watermark detect, radioactivity, attribution) returns `TestResult`s; the evidence
report (JSON + HTML) is written from them and nothing else, so every number in it comes from a run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TestResult:
    """A hypothesis test, its assumptions, its sample sizes and its outcome."""

    __test__ = False  # not a pytest test class

    name: str
    """Short id, e.g. "radioactivity/open" or "attribution/mmd"."""
    question: str
    """The question the test answers, in words ("Was the suspect trained on text watermarked with key K?")."""
    null_hypothesis: str
    """What is assumed when computing the p-value ("the suspect never saw text marked with this key")."""
    method: str
    """How the statistic and its p-value are computed (exact binomial over deduplicated tokens, ...)."""
    assumptions: list[str]
    """What must hold for the p-value to be valid."""
    sample_sizes: dict[str, int]
    """Counts behind the statistic (scored tokens, prompts, samples per prompt, permutations, ...)."""
    statistic: float
    p_value: float
    alpha: float = 0.05
    effect: dict[str, float] = field(default_factory=dict)
    """Effect sizes beside the p-value (green-token share vs gamma, MMD distance, ...)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Anything else worth keeping (settings, per-key p-values, ...); must be JSON-serialisable."""

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    def verdict(self) -> str:
        """One sentence in plain words."""
        if self.significant:
            return (
                f"Significant at level {self.alpha:g} (p = {self.p_value:.3g}): the data are unlikely "
                f"if {self.null_hypothesis.rstrip('.')}."
            )
        return (
            f"Not significant at level {self.alpha:g} (p = {self.p_value:.3g}): the data are "
            f"consistent with {self.null_hypothesis.rstrip('.')}."
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant, "verdict": self.verdict()}
