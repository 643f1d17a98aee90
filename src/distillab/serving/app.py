"""The OpenAI-compatible HTTP app: `create_app(engine_or_settings)` -> FastAPI.

Routes are thin (parse -> engine -> format); the conversions live in `requests`, `responses` and
`streaming` so the gateway can wrap the same engine with accounts, keys, logging and policies. The
gateway can also build its own app and `include_router(openai_router(), dependencies=[...])`, with a
`ServingState` in `app.state.serving`.

Run it: `distillab serve --model DIR`, or in-process with `distillab.serving.background.run_in_background`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse

from distillab import __version__
from distillab.errors import ConfigError, RequestError
from distillab.models.batcher import Batcher
from distillab.models.generate import Engine, EngineRequest
from distillab.models.samples import Generation, Sample
from distillab.openai_wire.responses import ResponseOptions, chat_response, completion_response, new_id
from distillab.openai_wire.schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    DetokenizeRequest,
    TokenizeRequest,
)
from distillab.provenance.keys import load_key
from distillab.provenance.watermark import Watermark, Watermarker
from distillab.serving.echo import echo_prompts
from distillab.serving.handlers import install_error_handlers
from distillab.serving.requests import (
    chat_request,
    check_model,
    completion_prompts,
    completion_requests,
    message_dict,
)
from distillab.serving.settings import ACCOUNT_HEADER, ServeSettings
from distillab.serving.streaming import chat_stream, completion_stream

log = logging.getLogger(__name__)


@dataclass
class ServingState:
    """What the routes need, kept in `app.state.serving`."""

    engine: Engine
    batcher: Batcher
    model_name: str
    created: int = field(default_factory=lambda: int(time.time()))
    watermarker: Watermarker | None = None

    def watermark(self, request: Request) -> Watermark | None:
        """The key to mark this request's answer with: per account (trusted gateway header) or the default."""
        if self.watermarker is None:
            return None
        account = request.headers.get(ACCOUNT_HEADER)
        return self.watermarker.for_account(unquote(account) if account is not None else None)


def create_app(
    source: Engine | ServeSettings,
    *,
    model_name: str | None = None,
    max_batch: int = 16,
    batch_window_ms: float = 5.0,
    dependencies: Sequence[Any] = (),
    watermarker: Watermarker | None = None,
) -> FastAPI:
    """An app serving one model.

    `source`: an Engine already in memory (tests, training code), or ServeSettings to load one from disk
    (then its model_name, max_batch, batch_window_ms and watermark settings are used and the keyword
    arguments ignored).
    `dependencies`: FastAPI dependencies run before every /v1 route (e.g. an API-key check).
    `watermarker`: watermark every sampled token (per account: from the x-distillab-account header, which
    only the gateway in front of this app may set).
    """
    if isinstance(source, ServeSettings):
        watermarker = _watermarker(source)
        engine = Engine.load(source.model, device=source.device, dtype=source.dtype)
        model_name, max_batch, batch_window_ms = source.served_name, source.max_batch, source.batch_window_ms
    else:
        engine = source
    name = model_name or Path(engine.name_or_path).name
    state = ServingState(
        engine,
        Batcher(engine, max_batch=max_batch, window_s=batch_window_ms / 1000),
        name,
        watermarker=watermarker,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # uvicorn has stopped accepting and drained open requests by now; finish the batch in flight.
        await state.batcher.aclose()

    app = FastAPI(title="distillab", version=__version__, lifespan=lifespan)
    app.state.serving = state
    install_error_handlers(app)
    app.include_router(openai_router(), dependencies=list(dependencies))
    app.include_router(tokenizer_router(), dependencies=list(dependencies))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _watermarker(settings: ServeSettings) -> Watermarker | None:
    if settings.watermark is None:
        return None
    key = load_key(settings.watermark_key_file)
    if key is None:
        raise ConfigError("watermarking needs a key: --watermark-key-file FILE or $DISTILLAB_WATERMARK_KEY")
    return Watermarker(settings.watermark, key, per_account=settings.watermark_per_account)


def openai_router() -> APIRouter:
    """The /v1 routes; they read the ServingState from `request.app.state.serving`."""
    router = APIRouter(prefix="/v1")

    @router.get("/models")
    async def list_models(request: Request) -> dict[str, object]:
        state: ServingState = request.app.state.serving
        return {
            "object": "list",
            "data": [
                {"id": state.model_name, "object": "model", "created": state.created, "owned_by": "distillab"}
            ],
        }

    @router.post("/chat/completions", response_model=None)
    async def chat_completions(
        body: ChatCompletionRequest, request: Request
    ) -> dict[str, object] | StreamingResponse:
        state: ServingState = request.app.state.serving
        check_model(body.model, [state.model_name])
        engine_request = chat_request(body, state.engine)
        engine_request.processor = state.watermark(request)
        options = ResponseOptions(
            state.model_name,
            body.logprobs,
            body.top_logprobs or 0,
            body.return_tokens_as_token_ids,
            id=new_id("chatcmpl"),
        )
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                chat_stream(state.batcher, engine_request, state.engine.vocab, options, include_usage),
                media_type="text/event-stream",
            )
        generation = await state.batcher.generate(engine_request)
        return chat_response(generation, state.engine.vocab, options)

    @router.post("/completions", response_model=None)
    async def completions(body: CompletionRequest, request: Request) -> dict[str, object] | StreamingResponse:
        state: ServingState = request.app.state.serving
        check_model(body.model, [state.model_name])
        engine_requests = completion_requests(body, state.engine)
        for engine_request in engine_requests:
            engine_request.processor = state.watermark(request)
        options = ResponseOptions(
            state.model_name,
            body.logprobs is not None,
            body.logprobs or 0,
            body.return_tokens_as_token_ids,
            id=new_id("cmpl"),
        )
        if body.stream:
            if len(engine_requests) > 1:
                raise RequestError("stream supports a single prompt, not a list", param="prompt")
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                completion_stream(
                    state.batcher, engine_requests[0], state.engine.vocab, options, include_usage
                ),
                media_type="text/event-stream",
            )
        answers = asyncio.gather(*(_generate(state.batcher, r) for r in engine_requests))
        if not body.echo:
            return completion_response(list(await answers), state.engine.vocab, options)
        texts = [p if isinstance(p, str) else None for p in completion_prompts(body)]
        echoed = asyncio.to_thread(
            echo_prompts,
            state.engine,
            [r.prompt_ids for r in engine_requests],
            texts,
            body.logprobs or 0,
            engine_requests[0].processor,
        )
        generations, echoes = await asyncio.gather(answers, echoed)
        return completion_response(list(generations), state.engine.vocab, options, echoes)

    return router


async def _generate(batcher: Batcher, request: EngineRequest) -> Generation:
    """The request's generation; with max_tokens 0 (echo only), n empty samples and no engine work."""
    if request.params.max_tokens > 0:
        return await batcher.generate(request)
    empty = Sample("", "length", tokens=[], token_ids=[], token_logprobs=[], top_ids=[], top_logprobs=[])
    return Generation([empty] * request.n, prompt_tokens=len(request.prompt_ids), completion_tokens=0)


def tokenizer_router() -> APIRouter:
    """vLLM's tokenizer routes (at the server's root), which lm-evaluation-harness's API models use to
    tokenize with the server's own tokenizer: GET /tokenizer_info, POST /tokenize, POST /detokenize."""
    router = APIRouter()

    @router.get("/tokenizer_info")
    async def tokenizer_info(request: Request) -> dict[str, object]:
        engine: Engine = request.app.state.serving.engine
        tokenizer = engine.tokenizer
        return {
            "tokenizer_class": type(tokenizer).__name__,
            "eos_token": tokenizer.eos_token,
            "bos_token": tokenizer.bos_token,
            "pad_token": tokenizer.pad_token,
            "chat_template": getattr(tokenizer, "chat_template", None),
            "model_max_length": engine.context_length,
            "vocab_size": engine.vocab_size,
        }

    @router.post("/tokenize")
    async def tokenize(body: TokenizeRequest, request: Request) -> dict[str, object]:
        engine: Engine = request.app.state.serving.engine
        if (body.prompt is None) == (body.messages is None):
            raise RequestError("give exactly one of prompt or messages", param="prompt")
        if body.messages is not None:
            ids = engine.encode_chat([message_dict(m) for m in body.messages], body.add_generation_prompt)
        else:
            assert body.prompt is not None
            ids = list(engine.tokenizer(body.prompt, add_special_tokens=body.add_special_tokens)["input_ids"])
        return {"tokens": ids, "count": len(ids), "max_model_len": engine.context_length}

    @router.post("/detokenize")
    async def detokenize(body: DetokenizeRequest, request: Request) -> dict[str, object]:
        engine: Engine = request.app.state.serving.engine
        if any(not 0 <= t < engine.vocab_size for t in body.tokens):
            raise RequestError(f"token ids must be in [0, {engine.vocab_size})", param="tokens")
        return {"prompt": engine.tokenizer.decode(body.tokens)}

    return router
