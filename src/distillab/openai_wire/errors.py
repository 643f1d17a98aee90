"""The JSON body of an OpenAI-style error. The error itself is `distillab.errors.RequestError`, a
`DistillabError`, so library callers catch it like any other, while the HTTP layers (server, gateway) turn it
into `{"error": {...}}` with its status code."""

from __future__ import annotations


def error_body(
    message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, object]:
    """The JSON body OpenAI returns for errors; the official clients parse `error.message` from it."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}
