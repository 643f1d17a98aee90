"""The gateway's FastAPI app, with its two model routes taken off the framework's per-request path.

Every request through the gateway is a POST to /v1/chat/completions or /v1/completions; FastAPI's
middleware stack, router and endpoint machinery cost about a fifth of the gateway's CPU per request on
those two routes (py-spy on benchmarks/gateway_overhead.py). `GatewayApp` is a FastAPI app in every
other way (admin API, /metrics, /health, lifespan, OpenAPI schema, which still documents the model
routes), but sends those two straight to their handler: the same handler and the same exception
handlers, so the answers are identical, error bodies included.

The fast routes also bound the request body (`MAX_BODY_BYTES`, a 413 beyond it), read before the
handler sees it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from distillab.errors import RequestError

log = logging.getLogger("distillab.gateway")
MAX_BODY_BYTES = 32 * 2**20
"""The largest request body the model routes accept (prompts of a million tokens fit)."""

Handler = Callable[[Request], Awaitable[Response]]


class GatewayApp(FastAPI):
    """FastAPI, except that `fast_route` paths skip its middleware stack and router for POST."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_routes: dict[str, Handler] = {}

    def fast_route(self, path: str) -> Callable[[Handler], Handler]:
        """Register ``handler(request) -> Response`` for POST ``path``, on the fast path."""

        def register(handler: Handler) -> Handler:
            self.fast_routes[path] = handler
            return handler

        return register

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.fast_routes.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # what Starlette sets: `request.app` in the handler
        request = Request(scope, receive)
        try:
            await _read_body(request)
            response = await handler(request)
        except Exception as exc:
            response = await self._handle_error(request, exc)
        await response(scope, receive, send)

    async def _handle_error(self, request: Request, exc: Exception) -> Response:
        """The app's own exception handler for ``exc`` (the most specific one, as Starlette picks)."""
        for kind in type(exc).__mro__:
            handler = self.exception_handlers.get(kind)
            if handler is not None:
                if kind is Exception:  # what Starlette's ServerErrorMiddleware logs
                    log.error("exception in %s", request.url.path, exc_info=exc)
                response = handler(request, exc)
                return await response if inspect.isawaitable(response) else response
        raise exc


async def _read_body(request: Request) -> None:
    """Read the whole body into the request (its `.body()` and `.json()` then use it), at most
    MAX_BODY_BYTES: a RequestError 413 beyond, from the Content-Length or from the bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's cache for .body() and .json()


def _too_large() -> RequestError:
    return RequestError(
        f"the request body is larger than {MAX_BODY_BYTES // 2**20} MiB", status=413, code="request_too_large"
    )
