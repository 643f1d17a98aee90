"""Request bodies of the OpenAI-compatible endpoints (pydantic), with OpenAI's defaults and limits.

Only what the engine can honour is declared with a meaning; unknown fields are kept (`extra="allow"`, so a
gateway can log them) and ignored, as vLLM does. Fields we accept for compatibility but cannot honour
(penalties, logit_bias, echo, ...) are rejected in `distillab.serving.requests` when set to a non-default
value, rather than silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_TOP_LOGPROBS = 20
"""Most alternatives per position (OpenAI's limit for chat; vLLM's default max_logprobs)."""
MAX_N = 128


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class StreamOptions(_Body):
    include_usage: bool = False
    """Send a last chunk with `usage` (and no choices) before `data: [DONE]`."""


class ContentPart(_Body):
    type: str
    text: str | None = None


class ChatMessage(_Body):
    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = None


class _Sampling(_Body):
    """Fields shared by chat and completions."""

    model: str
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=MAX_N)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    return_tokens_as_token_ids: bool = False
    """vLLM extension: every `token` string in logprobs becomes "token_id:<id>"."""


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    """Deprecated by OpenAI in favour of max_completion_tokens; either works.

    Default: the rest of the context."""
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)


class CompletionRequest(_Sampling):
    prompt: str | list[str] | list[int] | list[list[int]]
    """A string, a list of strings, a list of token ids, or a list of token-id lists."""
    max_tokens: int | None = Field(16, ge=0)
    """The legacy API's default is 16; 0 (with `echo`) only scores the prompt."""
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    """Legacy API: how many alternatives per position (OpenAI allows up to 5; we allow up to 20, as vLLM)."""
    echo: bool = False
    best_of: int | None = None
    suffix: str | None = None


class TokenizeRequest(_Body):
    """vLLM's POST /tokenize: a raw prompt, or messages rendered with the chat template."""

    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True
    """For a raw prompt: add the tokenizer's special tokens (e.g. BOS), as a completion prompt gets."""
    add_generation_prompt: bool = True
    """For messages: end with the assistant turn's header, as a chat completion does."""


class DetokenizeRequest(_Body):
    """vLLM's POST /detokenize."""

    tokens: list[int]
