"""What every teacher looks like: sampling parameters in, samples (text and log-probabilities) out.

A teacher is either a local Hugging Face model (full logits) or an OpenAI-compatible HTTP endpoint
(top-k log-probabilities when the server exposes them, else text only). Harvesting code talks only to
this protocol, so the two are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, Union

Messages = list[dict[str, str]]
PromptInput = Union[Messages, str]
"""A chat (list of {role, content}) or a raw completion prompt."""

SignalMode = Literal["logits", "topk", "text"]


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

    def as_dict(self) -> dict[str, object]:
        return {
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
    position, the k most likely alternatives ordered by decreasing log-probability.
    """

    text: str
    finish_reason: str
    tokens: list[str] = field(default_factory=list)
    token_ids: list[int] | None = None
    token_logprobs: list[float] | None = None
    top_ids: list[list[int]] | None = None
    top_tokens: list[list[str]] | None = None
    top_logprobs: list[list[float]] | None = None


@dataclass
class Generation:
    """The answer to one request: `n` samples and the token usage the teacher reported."""

    samples: list[Sample]
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Capabilities:
    """What signal a teacher gives, found by probing it once."""

    mode: SignalMode
    top_k: int = 0
    """Most alternatives per position the teacher returns (0 in text mode)."""
    token_ids: bool = False
    """Whether sampled and alternative tokens come back as ids of the teacher's tokenizer."""
    note: str = ""

    def describe(self) -> str:
        if self.mode == "logits":
            text = "full logits (local model)"
        elif self.mode == "topk":
            text = f"top-{self.top_k} log-probabilities" + (" with token ids" if self.token_ids else "")
        else:
            text = "text only (no log-probabilities)"
        return text + (f": {self.note}" if self.note else "")


class Teacher(Protocol):
    """A source of teacher samples. Implementations: LocalTeacher, HTTPTeacher."""

    name: str
    """Model identity recorded in the manifest (a path's model name or the server's model id)."""
    endpoint: str
    """Where the teacher lives: a local directory or a base URL."""

    async def probe(self) -> Capabilities: ...

    async def generate(self, prompt: PromptInput, params: SamplingParams, n: int = 1) -> Generation: ...

    async def aclose(self) -> None: ...
