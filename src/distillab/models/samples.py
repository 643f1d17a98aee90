"""What generation takes and gives: sampling parameters in, samples (text and log-probabilities) out.

Shared by the local engine (`distillab.models.generate`), every teacher (`distillab.teacher`) and the OpenAI
wire format (`distillab.openai_wire`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Defaults follow the OpenAI API."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    top_logprobs: int = 0
    """How many alternatives to return per position (0: only the sampled token's log-probability)."""
    logprobs: bool = True
    """Return the sampled tokens' log-probabilities at all."""
    draws: int = 0
    """Ids to draw per position from the model's own distribution (temperature 1, full vocabulary),
    for the sampled distillation signal (`distillab.models.draws`); only a local model can."""

    def as_dict(self) -> dict[str, object]:
        # `draws` only when asked for, so the ids of harvests without it (a hash of this) stay the same.
        extra: dict[str, object] = {"draws": self.draws} if self.draws else {}
        return extra | {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
        }


@dataclass
class Sample:
    """One sampled completion with per-token signal.

    `tokens` are the sampled tokens as text pieces. `token_ids` are set when the teacher's token ids are
    known (local teacher, or a server that can return ids). The `top_*` lists hold, per generated
    position, the k most likely alternatives ordered by decreasing log-probability. The `draw_*` lists
    and `entropy` hold, per position, the ids drawn from the full distribution (`SamplingParams.draws`).
    """

    text: str
    finish_reason: str
    tokens: list[str] = field(default_factory=list)
    token_ids: list[int] | None = None
    token_logprobs: list[float] | None = None
    top_ids: list[list[int]] | None = None
    top_tokens: list[list[str]] | None = None
    top_logprobs: list[list[float]] | None = None
    draw_ids: list[list[int]] | None = None
    """Per position, the distinct ids drawn, ascending."""
    draw_counts: list[list[int]] | None = None
    """How many of the position's draws gave each id (they sum to `SamplingParams.draws`)."""
    entropy: list[float] | None = None
    """Per position, the entropy (nats) of the distribution the ids were drawn from."""


@dataclass
class Generation:
    """The answer to one request: `n` samples and the token usage the teacher reported."""

    samples: list[Sample]
    prompt_tokens: int
    completion_tokens: int
