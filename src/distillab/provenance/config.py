"""`WatermarkConfig`: the settings of the keyed green-list watermark, shared by serving and detection.

Kept free of torch and numpy imports: `distillab --help` reads the flag help from here. Serving and
detection must use the same settings (only `delta` may differ: detection does not use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from distillab.errors import ConfigError
from distillab.fields import documented as _f

SCHEMES = ("lefthash", "selfhash")
MAX_CONTEXT = 8


@dataclass(frozen=True)
class WatermarkConfig:
    """A green-list watermark in the style of Kirchenbauer et al. (KGW). Validated on creation."""

    scheme: str = _f(
        "lefthash",
        "lefthash: the green list after a context is seeded by the previous --context "
        "tokens (Kirchenbauer et al. 2023). selfhash: seeded by the previous context-1 tokens and "
        "the candidate token itself, with min-hash seeding (Kirchenbauer et al. 2023, 'On the "
        "reliability of watermarks'): more robust to edits.",
    )
    context: int = _f(
        1,
        "Context width h: tokens hashed into each green list (selfhash counts the candidate "
        "token). Small h is easier for a student to pick up (more radioactive) and for an "
        "attacker to estimate; large h survives fewer edits.",
    )
    gamma: float = _f(
        0.25, "Green fraction: the share of the vocabulary that is green after each context, in (0, 1)."
    )
    delta: float = _f(
        2.0,
        "Bias added to the logits of green tokens (>= 0). Larger is easier to detect and costs "
        "more text quality. Only serving uses it.",
    )

    def __post_init__(self) -> None:
        problems = []
        if self.scheme not in SCHEMES:
            problems.append(f"scheme: expected one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if not 1 <= self.context <= MAX_CONTEXT:
            problems.append(f"context: must be in 1..{MAX_CONTEXT}, got {self.context}")
        if not 0 < self.gamma < 1:
            problems.append(f"gamma: must be in (0, 1), got {self.gamma}")
        if not (math.isfinite(self.delta) and 0 <= self.delta <= 50):
            problems.append(f"delta: must be in [0, 50], got {self.delta}")
        if problems:
            raise ConfigError(problems)

    @property
    def width(self) -> int:
        """How many preceding tokens decide a token's colour (selfhash hashes the token itself as well)."""
        return self.context if self.scheme == "lefthash" else self.context - 1

    def describe(self) -> str:
        return f"{self.scheme}, context {self.context}, gamma {self.gamma:g}, delta {self.delta:g}"

    def as_dict(self) -> dict[str, object]:
        return {"scheme": self.scheme, "context": self.context, "gamma": self.gamma, "delta": self.delta}
