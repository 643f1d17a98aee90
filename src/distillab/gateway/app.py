"""The gateway app: `create_gateway(store, backend, ...)` -> FastAPI.

    /v1/chat/completions, /v1/completions   keyed, rate-limited, logged, forwarded to the model
    /v1/models                              keyed, forwarded
    /admin/...                              accounts, keys, states, logs (admin token)
    /health, /metrics                       open (Prometheus text format)

The backend is either an upstream OpenAI-compatible base URL (a vLLM or SGLang server, a hosted API),
or a local model app (`distillab.serving.app.create_app`), which the gateway then runs on a loopback
port of its own for its lifetime, so both backends take the same path, streaming included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from distillab import __version__
from distillab.gateway.admin import admin_router
from distillab.gateway.metrics import CONTENT_TYPE, Metrics
from distillab.gateway.policy import Limits
from distillab.gateway.relay import Caller, Relay
from distillab.gateway.upstream import Upstream, UpstreamError
from distillab.serving.app import install_error_handlers
from distillab.serving.background import run_in_background
from distillab.serving.schemas import ChatCompletionRequest, CompletionRequest


def create_gateway(store: object, backend: str | FastAPI, *, limits: Limits | None = None,
                   upstream_key: str | None = None, admin_token: str | None = None,
                   upstream_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """A gateway in front of ``backend`` (a base URL ending in /v1, or a local model app)."""
    metrics = Metrics()
    limits = limits or Limits()
    stack = ExitStack()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        base_url = backend if isinstance(backend, str) else stack.enter_context(run_in_background(backend)) + "/v1"
        upstream = Upstream(base_url, api_key=upstream_key, transport=upstream_transport)
        app.state.relay = Relay(store, upstream, limits, metrics)
        try:
            yield
        finally:
            # uvicorn has drained in-flight requests by now (graceful shutdown); then stop the model.
            await upstream.aclose()
            stack.close()

    app = FastAPI(title="distillab gateway", version=__version__, lifespan=lifespan)
    app.state.store = store
    app.state.admin_token = admin_token
    install_error_handlers(app)
    app.include_router(admin_router())

    async def authorized(request: Request) -> Caller:
        relay: Relay = request.app.state.relay
        return await relay.authorize(request)

    # The bodies are declared (validated, and documented in the OpenAPI schema) but forwarded as sent,
    # so fields only the upstream knows survive. The key is checked first: no key, 401, whatever the body.
    @app.post("/v1/chat/completions", tags=["openai"])
    async def chat_completions(request: Request, body: ChatCompletionRequest,
                               caller: Caller = Depends(authorized)) -> Response:
        return await request.app.state.relay.handle(request, "/v1/chat/completions", caller)

    @app.post("/v1/completions", tags=["openai"])
    async def completions(request: Request, body: CompletionRequest, caller: Caller = Depends(authorized)) -> Response:
        return await request.app.state.relay.handle(request, "/v1/completions", caller)

    @app.get("/v1/models", tags=["openai"])
    async def models(request: Request, caller: Caller = Depends(authorized)) -> Response:
        relay: Relay = request.app.state.relay
        try:
            return JSONResponse(await relay.upstream.json("GET", "/models"))
        except UpstreamError as exc:
            return JSONResponse(exc.body, status_code=exc.status)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app
