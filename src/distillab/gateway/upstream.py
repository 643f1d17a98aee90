"""The model behind the gateway, reached over HTTP: an upstream OpenAI-compatible server, or the
gateway's own local model server started on loopback.

One httpx client sends every request; responses are streamed through chunk by chunk. Upstream
failures become OpenAI-style errors: unreachable -> 502, timeout -> 504, an upstream error body is
passed through (a non-JSON one is wrapped), so clients always get `{"error": {...}}`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from distillab.serving.errors import error_body


class UpstreamError(Exception):
    """The upstream could not be used; carries the status and OpenAI-style body to answer with."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body


class Upstream:
    """An OpenAI-compatible base URL (ending in /v1) and the client that talks to it."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 600.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(base_url=self.base_url, headers=headers, transport=transport,
                                        timeout=httpx.Timeout(timeout, connect=10.0),
                                        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))

    async def open(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """Send a request and return the response with its body not yet read (``stream``)."""
        request = self.client.build_request(method, path, json=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamError(504, error_body(f"the upstream model server timed out ({type(exc).__name__})",
                                                type="upstream_error", code="upstream_timeout")) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(502, error_body(f"the upstream model server is unreachable ({type(exc).__name__})",
                                                type="upstream_error", code="upstream_unavailable")) from exc
        if response.status_code >= 400:
            raw = await response.aread()
            await response.aclose()
            raise UpstreamError(*_error(response.status_code, raw))
        return response

    async def json(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.open(method, path, body)
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UpstreamError(502, error_body("the upstream answered with something that is not JSON",
                                                type="upstream_error", code="upstream_bad_response")) from exc
        if not isinstance(data, dict):
            raise UpstreamError(502, error_body("the upstream answered with JSON that is not an object",
                                                type="upstream_error", code="upstream_bad_response"))
        return data

    async def aclose(self) -> None:
        await self.client.aclose()


def _error(status: int, raw: bytes) -> tuple[int, dict[str, Any]]:
    """An upstream error as (status, OpenAI error body): passed through when it is one already."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict) and "message" in data["error"]:
        return status, data
    text = raw.decode("utf-8", "replace").strip()[:300] or f"HTTP {status}"
    kind = "upstream_error" if status >= 500 else "invalid_request_error"
    return (502 if status >= 500 else status), error_body(f"upstream: {text}", type=kind)
