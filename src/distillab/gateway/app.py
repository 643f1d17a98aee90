"""The gateway app: `create_gateway(store, backend, ...)` -> FastAPI.

    /v1/chat/completions, /v1/completions   keyed, rate-limited, logged, forwarded to the model
    /v1/models                              keyed, forwarded
    /tokenize, /detokenize, /tokenizer_info keyed, forwarded (the model server's tokenizer)
    /admin/...                              accounts, keys, states, logs (admin token)
    /health, /metrics                       open (Prometheus text format)

The backend is either an upstream OpenAI-compatible base URL (a vLLM or SGLang server, a hosted API),
or a local model app (`distillab.serving.app.create_app`), which the gateway then runs on a loopback
port of its own for its lifetime, so both backends take the same path, streaming included.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from distillab import __version__
from distillab.errors import RequestError, StoreError
from distillab.gateway.admin import admin_router
from distillab.gateway.fastpath import GatewayApp
from distillab.gateway.metrics import CONTENT_TYPE, Metrics
from distillab.gateway.policy import Limits, open_buckets
from distillab.gateway.relay import Caller, Relay, note_store_down
from distillab.gateway.upstream import Upstream, UpstreamError
from distillab.openai_wire.schemas import ChatCompletionRequest, CompletionRequest
from distillab.serving.background import run_in_background
from distillab.serving.handlers import install_error_handlers

if TYPE_CHECKING:
    from distillab.gateway.detector import LiveDetector

BODIES: tuple[type[BaseModel], ...] = (ChatCompletionRequest, CompletionRequest)


def create_gateway(
    store: object,
    backend: str | FastAPI,
    *,
    limits: Limits | None = None,
    upstream_key: str | None = None,
    admin_token: str | None = None,
    detector: LiveDetector | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """A gateway in front of ``backend`` (a base URL ending in /v1, or a local model app); with
    ``detector``, the live detector scores its traffic in the background and sets account states.
    ``clock`` (monotonic seconds) times the key and state caches and the rate limits kept in this
    process (with ``limits.redis``, the shared ones are timed by the Redis server's clock)."""
    metrics = Metrics()
    limits = limits or Limits()
    stack = ExitStack()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        base_url = (
            backend if isinstance(backend, str) else stack.enter_context(run_in_background(backend)) + "/v1"
        )
        # Only our own local model server hears which account asks (for per-account watermark keys).
        upstream = Upstream(base_url, api_key=upstream_key, send_account=not isinstance(backend, str))
        buckets = open_buckets(limits, metrics, clock)
        await buckets.start()
        app.state.relay = relay = Relay(store, upstream, limits, metrics, detector, clock, buckets)
        if detector is not None:
            detector.prepare(store)  # before the first request: it is either replayed or observed, never both
        watching = (
            asyncio.ensure_future(detector.run(store, metrics, relay.states.forget)) if detector else None
        )
        try:
            yield
        finally:
            if detector is not None:
                detector.stopping.set()  # a replay in its worker thread stops at its next batch
            if watching is not None:
                watching.cancel()
                await asyncio.gather(watching, return_exceptions=True)
            # uvicorn has drained in-flight requests by now (graceful shutdown); then stop the model.
            await upstream.aclose()
            await buckets.aclose()
            stack.close()

    app = GatewayApp(title="distillab gateway", version=__version__, lifespan=lifespan)
    app.state.store = store
    app.state.admin_token = admin_token
    install_error_handlers(app)

    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        # The store cannot authorize or log this request (a database gone or failing), so its answer does
        # not leave. 503 with Retry-After says "try again", which the OpenAI SDKs do.
        return JSONResponse(
            note_store_down(metrics, request.url.path, exc), status_code=503, headers={"Retry-After": "1"}
        )

    app.add_exception_handler(StoreError, store_down)  # the request log's writes
    for unreachable in (sa.exc.OperationalError, sa.exc.InterfaceError):  # keys, states (SQLAlchemy Core)
        app.add_exception_handler(unreachable, store_down)

    async def authorized(request: Request) -> Caller:
        relay: Relay = request.app.state.relay
        return await relay.authorize(request)

    # The bodies are validated and documented in the OpenAPI schema, but forwarded as sent, so fields only
    # the upstream knows survive. The key is checked first: no key, 401, whatever the body. These routes
    # take the bare request and check the body themselves, and are served on GatewayApp's fast path
    # (their FastAPI routes document them in the OpenAPI schema).
    @app.fast_route("/v1/chat/completions")
    @app.post("/v1/chat/completions", tags=["openai"], openapi_extra=_json_body(ChatCompletionRequest))
    async def chat_completions(request: Request) -> Response:
        return await _relay(request, "/v1/chat/completions", ChatCompletionRequest)

    @app.fast_route("/v1/completions")
    @app.post("/v1/completions", tags=["openai"], openapi_extra=_json_body(CompletionRequest))
    async def completions(request: Request) -> Response:
        return await _relay(request, "/v1/completions", CompletionRequest)

    @app.get("/v1/models", tags=["openai"])
    async def models(request: Request, caller: Caller = Depends(authorized)) -> Response:
        relay: Relay = request.app.state.relay
        try:
            return JSONResponse(await relay.upstream.json("GET", "/models"))
        except UpstreamError as exc:
            return JSONResponse(exc.body, status_code=exc.status)

    # The model server's tokenizer (vLLM's routes, which lm-evaluation-harness uses): keyed, forwarded.
    async def tokenizer_route(request: Request, method: str, path: str) -> Response:
        relay: Relay = request.app.state.relay
        body = await request.body() if method == "POST" else None
        try:
            return JSONResponse(await relay.upstream.json(method, path, body, root=True))
        except UpstreamError as exc:
            return JSONResponse(exc.body, status_code=exc.status)

    @app.get("/tokenizer_info", tags=["tokenizer"])
    async def tokenizer_info(request: Request, caller: Caller = Depends(authorized)) -> Response:
        return await tokenizer_route(request, "GET", "/tokenizer_info")

    @app.post("/tokenize", tags=["tokenizer"])
    async def tokenize(request: Request, caller: Caller = Depends(authorized)) -> Response:
        return await tokenizer_route(request, "POST", "/tokenize")

    @app.post("/detokenize", tags=["tokenizer"])
    async def detokenize(request: Request, caller: Caller = Depends(authorized)) -> Response:
        return await tokenizer_route(request, "POST", "/detokenize")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.include_router(admin_router())  # after the /v1 routes, which are matched first
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        openapi_schema = app.openapi_schema
        if openapi_schema is None:  # built once; with the bodies' schemas, which FastAPI does not see
            openapi_schema = default_openapi()
            schemas = openapi_schema.setdefault("components", {}).setdefault("schemas", {})
            for model in BODIES:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
        return openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _relay(request: Request, endpoint: str, model: type[BaseModel]) -> Response:
    relay: Relay = request.app.state.relay
    caller = await relay.authorize(request)
    try:
        body = await request.json()  # parsed once: the request keeps it for Relay.handle
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError("the request body must be a JSON object") from None
    try:
        model.model_validate(body)
    except ValidationError as exc:  # a 400 listing every problem, as FastAPI's own validation gives
        raise RequestValidationError(exc.errors()) from None
    return await relay.handle(request, endpoint, caller)


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that validates its JSON body against ``model`` itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }
