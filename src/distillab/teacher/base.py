"""What every teacher looks like: sampling parameters in, samples (text and log-probabilities) out.

A teacher is either a local Hugging Face model (full logits) or an OpenAI-compatible HTTP endpoint
(top-k log-probabilities when the server exposes them, else text only). Harvesting code talks only to
this protocol, so the two are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from distillab.errors import TeacherError
from distillab.models.samples import Generation, Sample, SamplingParams

Messages = list[dict[str, str]]
PromptInput = Messages | str
"""A chat (list of {role, content}) or a raw completion prompt."""

SignalMode = Literal["logits", "topk", "text"]

__all__ = [
    "Capabilities",
    "Generation",
    "Messages",
    "PromptInput",
    "RequestRejected",
    "Sample",
    "SamplingParams",
    "SignalMode",
    "Teacher",
]


class RequestRejected(TeacherError):
    """The teacher refused this request (an HTTP 4xx other than 408/409/429, or a local model's
    RequestError: a prompt too long or empty); retrying would not help, other prompts may still be asked."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


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

    async def score(
        self, prompt: PromptInput, completion: str, top_k: int, draws: int = 0, seed: int | None = None
    ) -> Generation:
        """The teacher's log-probabilities of a given completion (one sample whose text is `completion`):
        per completion token, its log-probability and the `top_k` most likely alternatives, and with
        `draws` that many ids drawn from its full distribution (reproducibly from `seed`; local teachers
        only, see `distillab.models.draws`). Usage counts every token as a prompt token (scoring
        generates nothing)."""
        ...

    async def aclose(self) -> None: ...
