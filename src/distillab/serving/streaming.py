"""Server-sent events for `stream: true`: one `data: {json}` line per token, then `data: [DONE]`.

Chat follows OpenAI's chunk sequence: a first chunk per choice with the assistant role, then one chunk per
generated token (text delta, its logprobs when asked, and the finish_reason on the last one), an optional
usage chunk, and `[DONE]`. Once the first byte is sent the status code is fixed, so a failure mid-stream is
reported as an `{"error": ...}` event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from distillab.errors import DistillabError
from distillab.models.batcher import Batcher
from distillab.models.generate import EngineRequest
from distillab.models.vocab import Vocab
from distillab.openai_wire.errors import error_body
from distillab.openai_wire.responses import (
    ResponseOptions,
    chat_chunk,
    chat_token_logprob,
    completion_chunk,
    completion_logprobs,
    usage_chunk,
)

log = logging.getLogger(__name__)
DONE = "data: [DONE]\n\n"


def sse(payload: dict[str, object]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def _failure(exc: Exception) -> str:
    if isinstance(exc, DistillabError):
        return sse(error_body(str(exc), type="server_error"))
    log.exception("generation failed mid-stream")
    return sse(error_body("internal error during generation", type="server_error"))


async def chat_stream(
    batcher: Batcher, request: EngineRequest, vocab: Vocab, options: ResponseOptions, include_usage: bool
) -> AsyncIterator[str]:
    for index in range(request.n):
        yield sse(chat_chunk(options, index, {"role": "assistant", "content": ""}))
    generated = 0
    try:
        async for event in batcher.stream(request):
            generated += 1
            logprobs = (
                [
                    chat_token_logprob(
                        vocab,
                        event.token_id,
                        event.logprob,
                        event.top_ids,
                        event.top_logprobs,
                        options.token_ids,
                    )
                ]
                if options.logprobs
                else None
            )
            yield sse(
                chat_chunk(options, event.index, {"content": event.text}, logprobs, event.finish_reason)
            )
    except Exception as exc:  # the status line is gone: report in-band, then end the stream cleanly
        yield _failure(exc)
        yield DONE
        return
    if include_usage:
        yield sse(usage_chunk(options, "chat.completion.chunk", len(request.prompt_ids), generated))
    yield DONE


async def completion_stream(
    batcher: Batcher, request: EngineRequest, vocab: Vocab, options: ResponseOptions, include_usage: bool
) -> AsyncIterator[str]:
    offsets = [0] * request.n
    generated = 0
    try:
        async for event in batcher.stream(request):
            generated += 1
            logprobs = None
            if options.logprobs:
                logprobs = completion_logprobs(
                    vocab,
                    [event.token_id],
                    [event.logprob],
                    [event.top_ids],
                    [event.top_logprobs],
                    options.token_ids,
                    offsets[event.index],
                )
                offsets[event.index] += len(vocab.piece(event.token_id))
            yield sse(completion_chunk(options, event.index, event.text, logprobs, event.finish_reason))
    except Exception as exc:  # see chat_stream
        yield _failure(exc)
        yield DONE
        return
    if include_usage:
        yield sse(usage_chunk(options, "text_completion", len(request.prompt_ids), generated))
    yield DONE
