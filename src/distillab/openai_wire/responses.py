"""Engine results -> OpenAI response bodies (plain dicts), for whole responses and for stream chunks.

Pure functions of (generation, request options, vocab), so a gateway can reuse them. Every reported
log-probability is the model's raw one (see `distillab.models.generate`). The EOS token that ended a
sample is reported in logprobs (the teacher's probability of stopping is signal), but not in the text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from distillab.models.samples import Generation, Sample
from distillab.models.vocab import Vocab


@dataclass
class ResponseOptions:
    """What the client asked to see, and how the response is labelled."""

    model: str
    logprobs: bool = False
    top_logprobs: int = 0
    token_ids: bool = False
    """return_tokens_as_token_ids: token strings become "token_id:<id>"."""
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))


class Echoed(Protocol):
    """An echoed prompt (`distillab.serving.echo.Echo`): its text and per-token log-probabilities."""

    text: str
    token_ids: list[int]
    logprobs: list[float | None]
    top_ids: list[list[int]]
    top_logprobs: list[list[float]]


LOGPROB_FLOOR = -9999.0
"""JSON has no -inf; impossible tokens (e.g. masked padding ids) are reported at this floor, as vLLM does."""


def finite(logprob: float) -> float:
    return max(logprob, LOGPROB_FLOOR)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def token_str(vocab: Vocab, token_id: int, as_ids: bool) -> str:
    return f"token_id:{token_id}" if as_ids else vocab.piece(token_id)


def usage(generations: list[Generation]) -> dict[str, int]:
    prompt = sum(g.prompt_tokens for g in generations)
    completion = sum(g.completion_tokens for g in generations)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# -- chat ------------------------------------------------------------------------------------------------


def chat_token_logprob(
    vocab: Vocab, token_id: int, logprob: float, top_ids: list[int], top_logprobs: list[float], as_ids: bool
) -> dict[str, object]:
    """One entry of `choices[i].logprobs.content`."""

    def entry(tid: int, lp: float) -> dict[str, object]:
        return {
            "token": token_str(vocab, tid, as_ids),
            "logprob": finite(lp),
            "bytes": vocab.token_bytes(tid),
        }

    return {
        **entry(token_id, logprob),
        "top_logprobs": [entry(t, lp) for t, lp in zip(top_ids, top_logprobs)],
    }


def chat_logprobs(vocab: Vocab, sample: Sample, options: ResponseOptions) -> dict[str, object] | None:
    if not options.logprobs:
        return None
    ids, lps = sample.token_ids or [], sample.token_logprobs or []
    top_ids, top_lps = sample.top_ids or [[] for _ in ids], sample.top_logprobs or [[] for _ in ids]
    return {
        "content": [
            chat_token_logprob(vocab, t, lp, ti, tl, options.token_ids)
            for t, lp, ti, tl in zip(ids, lps, top_ids, top_lps)
        ]
    }


def chat_response(generation: Generation, vocab: Vocab, options: ResponseOptions) -> dict[str, object]:
    """The body of a non-streaming chat completion."""
    return {
        "id": options.id or new_id("chatcmpl"),
        "object": "chat.completion",
        "created": options.created,
        "model": options.model,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": sample.text},
                "logprobs": chat_logprobs(vocab, sample, options),
                "finish_reason": sample.finish_reason,
            }
            for i, sample in enumerate(generation.samples)
        ],
        "usage": usage([generation]),
    }


def chat_chunk(
    options: ResponseOptions,
    index: int,
    delta: dict[str, object],
    logprobs: list[dict[str, object]] | None = None,
    finish_reason: str | None = None,
) -> dict[str, object]:
    """One `chat.completion.chunk` for choice `index`."""
    return {
        "id": options.id,
        "object": "chat.completion.chunk",
        "created": options.created,
        "model": options.model,
        "choices": [
            {
                "index": index,
                "delta": delta,
                "logprobs": {"content": logprobs} if logprobs is not None else None,
                "finish_reason": finish_reason,
            }
        ],
    }


# -- legacy completions ----------------------------------------------------------------------------------


def completion_logprobs(
    vocab: Vocab,
    token_ids: list[int],
    logprobs: Sequence[float | None],
    top_ids: list[list[int]],
    top_lps: list[list[float]],
    as_ids: bool,
    offset: int = 0,
) -> dict[str, object]:
    """The legacy `logprobs` object; text_offset counts characters of the token pieces from `offset`.

    A None log-probability (an echoed prompt's first token) is reported as null, with null alternatives.
    """
    tokens = [token_str(vocab, t, as_ids) for t in token_ids]
    offsets = []
    for t in token_ids:
        offsets.append(offset)
        offset += len(vocab.piece(t))
    return {
        "tokens": tokens,
        "token_logprobs": [None if lp is None else finite(lp) for lp in logprobs],
        "top_logprobs": [
            None if lp is None else {token_str(vocab, t, as_ids): finite(v) for t, v in zip(ti, tl)}
            for lp, ti, tl in zip(logprobs, top_ids, top_lps)
        ],
        "text_offset": offsets,
    }


def _joined(first: dict[str, object], second: dict[str, object]) -> dict[str, object]:
    return {key: [*first[key], *second[key]] for key in first}  # type: ignore[misc]


def completion_response(
    generations: list[Generation],
    vocab: Vocab,
    options: ResponseOptions,
    echoes: Sequence[Echoed] | None = None,
) -> dict[str, object]:
    """The body of a non-streaming legacy completion; choice index = prompt index * n + sample index.

    `echoes` (one per prompt, `echo: true`): each choice's text and logprobs start with its prompt's.
    """
    choices: list[dict[str, object]] = []
    for p, generation in enumerate(generations):
        echo = echoes[p] if echoes is not None else None
        for sample in generation.samples:
            ids = sample.token_ids or []
            start = len(echo.text) if echo is not None else 0
            logprobs = (
                completion_logprobs(
                    vocab,
                    ids,
                    sample.token_logprobs or [],
                    sample.top_ids or [[] for _ in ids],
                    sample.top_logprobs or [[] for _ in ids],
                    options.token_ids,
                    offset=start,
                )
                if options.logprobs
                else None
            )
            if echo is not None and logprobs is not None:
                prompt = completion_logprobs(
                    vocab, echo.token_ids, echo.logprobs, echo.top_ids, echo.top_logprobs, options.token_ids
                )
                logprobs = _joined(prompt, logprobs)
            choices.append(
                {
                    "index": len(choices),
                    "text": (echo.text if echo is not None else "") + sample.text,
                    "logprobs": logprobs,
                    "finish_reason": sample.finish_reason,
                }
            )
    return {
        "id": options.id or new_id("cmpl"),
        "object": "text_completion",
        "created": options.created,
        "model": options.model,
        "choices": choices,
        "usage": usage(generations),
    }


def completion_chunk(
    options: ResponseOptions,
    index: int,
    text: str,
    logprobs: dict[str, object] | None,
    finish_reason: str | None,
) -> dict[str, object]:
    return {
        "id": options.id,
        "object": "text_completion",
        "created": options.created,
        "model": options.model,
        "choices": [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}],
    }


def usage_chunk(
    options: ResponseOptions, object_name: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, object]:
    """The last chunk when stream_options.include_usage is set: no choices, only usage."""
    return {
        "id": options.id,
        "object": object_name,
        "created": options.created,
        "model": options.model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
