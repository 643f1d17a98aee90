"""Error handlers shared by the model server and the gateway: every error leaves as OpenAI's
`{"error": {...}}`. Kept apart from `serving.app` so the gateway can use them without importing the
model stack (torch, transformers): an `--upstream` gateway never loads a model.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from distillab.errors import DistillabError, RequestError
from distillab.openai_wire.errors import error_body

log = logging.getLogger("distillab.serving")


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as OpenAI's `{"error": {message, type, param, code}}`, validation errors as 400."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        param = None
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ()) if part != "body"]
            where = ".".join(loc)
            param = param or where or None
            problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
        return JSONResponse(error_body("; ".join(problems), param=param), status_code=400)

    @app.exception_handler(RequestError)
    async def bad_request(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.message, type=exc.type, param=exc.param, code=exc.code), status_code=exc.status
        )

    @app.exception_handler(DistillabError)
    async def failed(request: Request, exc: DistillabError) -> JSONResponse:
        log.error("request failed: %s", exc)
        return JSONResponse(error_body(str(exc), type="server_error"), status_code=500)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # Starlette still logs the traceback; the client gets the error shape its SDK can parse.
        return JSONResponse(error_body("internal server error", type="server_error"), status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail), type="invalid_request_error"),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
