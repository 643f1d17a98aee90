"""OpenAI request bodies -> engine requests. Pure functions, reusable by a gateway in front of the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from distillab.errors import RequestError
from distillab.models.generate import Engine, EngineRequest
from distillab.openai_wire.schemas import ChatCompletionRequest, ChatMessage, CompletionRequest, _Sampling
from distillab.teacher.base import SamplingParams

DEFAULT_MAX_TOKENS = 1024
"""Budget when the request sets none and the model's context length is unknown."""


def check_model(requested: str, served: Sequence[str]) -> None:
    """404 unless `requested` is one of the served model ids (OpenAI's error shape and code)."""
    if requested not in served:
        raise RequestError(
            f"The model `{requested}` does not exist. Served: {', '.join(served)}",
            param="model",
            status=404,
            code="model_not_found",
        )


def _check_supported(body: _Sampling) -> None:
    unsupported = [
        ("presence_penalty", body.presence_penalty != 0.0),
        ("frequency_penalty", body.frequency_penalty != 0.0),
        ("logit_bias", bool(body.logit_bias)),
    ]
    if isinstance(body, CompletionRequest):
        unsupported += [
            ("echo with stream", body.echo and body.stream),
            ("suffix", body.suffix is not None),
            ("best_of", body.best_of not in (None, body.n)),
        ]
    for name, is_set in unsupported:
        if is_set:
            raise RequestError(f"{name} is not supported by this server", param=name)


def _stop(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    return (stop,) if isinstance(stop, str) else tuple(stop)


def _budget(engine: Engine, prompt_len: int, asked: int | None, param: str) -> int:
    """The token budget: what was asked (rejected when it cannot fit, like OpenAI), else the rest of
    the context."""
    room = engine.context_length - prompt_len if engine.context_length is not None else None
    if asked is None:
        return room if room is not None else DEFAULT_MAX_TOKENS
    if room is not None and asked > room:
        raise RequestError(
            f"This model's maximum context length is {engine.context_length} tokens. However, "
            f"you requested {prompt_len + asked} tokens ({prompt_len} in the prompt, {asked} "
            f"for the completion); reduce {param}.",
            param=param,
            code="context_length_exceeded",
        )
    return asked


def _engine_request(
    engine: Engine,
    prompt_ids: list[int],
    body: _Sampling,
    *,
    asked: int | None,
    budget_param: str,
    top_logprobs: int,
    logprobs: bool,
) -> EngineRequest:
    params = SamplingParams(
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        max_tokens=1,
        stop=_stop(body.stop),
        seed=body.seed,
        top_logprobs=top_logprobs,
        logprobs=logprobs,
    )
    request = EngineRequest(prompt_ids, params, n=body.n)
    engine.check(request)  # empty or over-long prompt first: the budget below assumes a valid prompt
    request.params = replace(params, max_tokens=_budget(engine, len(prompt_ids), asked, budget_param))
    return request


def message_dict(message: ChatMessage) -> dict[str, str]:
    """A message as chat templates expect it: text content only (parts joined)."""
    content = message.content
    if isinstance(content, list):
        if any(part.type != "text" for part in content):
            raise RequestError("only text content parts are supported", param="messages")
        content = "".join(part.text or "" for part in content)
    out = {"role": message.role, "content": content or ""}
    if message.name:
        out["name"] = message.name
    return out


def chat_request(body: ChatCompletionRequest, engine: Engine) -> EngineRequest:
    """The engine request for a chat completion (messages rendered with the chat template)."""
    _check_supported(body)
    if body.top_logprobs and not body.logprobs:
        raise RequestError("top_logprobs requires logprobs to be true", param="top_logprobs")
    prompt_ids = engine.encode_chat([message_dict(m) for m in body.messages])
    asked = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    return _engine_request(
        engine,
        prompt_ids,
        body,
        asked=asked,
        budget_param=param,
        top_logprobs=body.top_logprobs or 0,
        logprobs=body.logprobs,
    )


def completion_prompts(body: CompletionRequest) -> list[str | list[int]]:
    """The prompts of a legacy completion request: each a string or a list of token ids."""
    prompt = body.prompt
    if isinstance(prompt, str):
        return [prompt]
    if prompt and all(isinstance(p, int) for p in prompt):
        return [list(prompt)]  # type: ignore[arg-type]
    if prompt:
        return [p if isinstance(p, str) else list(p) for p in prompt]  # type: ignore[arg-type]
    raise RequestError("prompt must not be empty", param="prompt")


def completion_requests(body: CompletionRequest, engine: Engine) -> list[EngineRequest]:
    """One engine request per prompt (the legacy API accepts a list of prompts).

    `max_tokens: 0` asks for no completion at all: only the echoed prompt (`echo: true`) is scored. Its
    requests carry max_tokens 0 and never reach the engine's generation.
    """
    _check_supported(body)
    if body.max_tokens == 0 and not body.echo:
        raise RequestError("max_tokens must be at least 1 unless echo is true", param="max_tokens")
    requests = []
    for prompt in completion_prompts(body):
        ids = engine.encode_text(prompt) if isinstance(prompt, str) else prompt
        if body.max_tokens == 0:
            request = EngineRequest(ids, SamplingParams(max_tokens=1), n=body.n)
            engine.check(request)  # an empty or over-long prompt is refused as for any completion
            request.params = replace(request.params, max_tokens=0)
        else:
            request = _engine_request(
                engine,
                ids,
                body,
                asked=body.max_tokens,
                budget_param="max_tokens",
                top_logprobs=body.logprobs or 0,
                logprobs=body.logprobs is not None,
            )
        requests.append(request)
    return requests
