"""Errors a single request can cause, carrying what an OpenAI-style error response needs.

`RequestError` is a `DistillabError`, so library callers (LocalTeacher, harvest code) can catch it like any
other distillab error, while the HTTP layer turns it into `{"error": {...}}` with the right status code.
"""

from __future__ import annotations

from distillab.errors import DistillabError


class RequestError(DistillabError):
    """A request the server cannot serve as asked: bad field value, unknown model, prompt too long."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int = 400,
        code: str | None = None,
        type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.code = code
        self.type = type


def error_body(
    message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, object]:
    """The JSON body OpenAI returns for errors; the official clients parse `error.message` from it."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}
