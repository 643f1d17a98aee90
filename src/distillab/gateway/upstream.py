"""The model behind the gateway, reached over HTTP: an upstream OpenAI-compatible server, or the
gateway's own local model server started on loopback.

One aiohttp session sends every request; responses are streamed through chunk by chunk. aiohttp, not
httpx: the gateway is a proxy whose every request crosses this client, and httpx's pure-Python
connection pool cost more CPU per request than everything else in the gateway together (profiled with
benchmarks/gateway_overhead.py); aiohttp parses HTTP in C and keeps its pool simple. Upstream
failures become OpenAI-style errors: unreachable -> 502, timeout -> 504, an upstream error body is
passed through (a non-JSON one is wrapped), so clients always get `{"error": {...}}`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from distillab.openai_wire.errors import error_body
from distillab.serving.settings import ACCOUNT_HEADER


class UpstreamError(Exception):
    """The upstream could not be used; carries the status and OpenAI-style body to answer with."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body


class Upstream:
    """An OpenAI-compatible base URL (ending in /v1) and the client that talks to it.

    Create it inside the event loop that will use it (the gateway does, in its lifespan).
    """

    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeout: float = 600.0, send_account: bool = False
    ):
        self.base_url = base_url.rstrip("/")
        self.root_url = self.base_url.removesuffix("/v1")
        """The server's root, for routes outside /v1 (vLLM's /tokenize, /detokenize, /tokenizer_info)."""
        self.send_account = send_account
        """Only for the gateway's own local model server: name the account (x-distillab-account) so that
        per-account watermark keys work. Client headers are never forwarded, so clients cannot set it."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # timeout: connecting, and the wait for each piece of the answer (not the whole answer: a long
        # stream may take longer than `timeout` in all).
        # No cookie jar: a cookie the upstream sets must not travel with other accounts' requests. Idle
        # connections are dropped before uvicorn's (vLLM's, SGLang's) 5 s keep-alive ends: a POST sent on
        # a connection the server has just closed fails, and is not retried (it may not be idempotent).
        self.session = aiohttp.ClientSession(
            headers=headers,
            connector=aiohttp.TCPConnector(limit=256, limit_per_host=0, keepalive_timeout=4.0),
            timeout=aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self.urls: dict[str, URL] = {}

    async def open(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        account: str | None = None,
        root: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send a request (``body``: JSON bytes as the client sent them, or an object to encode) and
        return the response with its body not yet read: read it, then ``release()`` it, or ``close()``.
        ``root``: ``path`` is from the server's root, not from the base URL's /v1."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.send_account and account is not None:
            headers[ACCOUNT_HEADER] = quote(account, safe="")
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        try:
            key = f"/{path}" if root else path  # "//tokenize" cannot be a /v1 path
            url = self.urls.get(key) or self.urls.setdefault(
                key, URL((self.root_url if root else self.base_url) + path)
            )
            response = await self.session.request(method, url, data=data, headers=headers)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise _failure(
                504, f"the upstream model server timed out ({type(exc).__name__})", "upstream_timeout"
            ) from exc
        except aiohttp.ClientError as exc:
            raise _failure(
                502,
                f"the upstream model server is unreachable ({type(exc).__name__})",
                "upstream_unavailable",
            ) from exc
        if response.status >= 400:
            raw = await _read(response)
            raise UpstreamError(*_error(response.status, raw))
        return response

    async def fetch(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        account: str | None = None,
        root: bool = False,
    ) -> tuple[bytes, dict[str, Any]]:
        """The whole answer: its bytes as the upstream sent them, and the JSON object they hold."""
        raw = await _read(await self.open(method, path, body, account=account, root=root))
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _failure(
                502, "the upstream answered with something that is not JSON", "upstream_bad_response"
            ) from exc
        if not isinstance(data, dict):
            raise _failure(
                502, "the upstream answered with JSON that is not an object", "upstream_bad_response"
            )
        return raw, data

    async def json(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        account: str | None = None,
        root: bool = False,
    ) -> dict[str, Any]:
        return (await self.fetch(method, path, body, account=account, root=root))[1]

    async def aclose(self) -> None:
        await self.session.close()


async def _read(response: aiohttp.ClientResponse) -> bytes:
    """The rest of an answer; a connection that breaks or stalls mid-answer is a 502 or 504."""
    try:
        return await response.read()
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise _failure(
            504, f"the upstream model server timed out ({type(exc).__name__})", "upstream_timeout"
        ) from exc
    except aiohttp.ClientError as exc:
        raise _failure(
            502, f"the upstream model server broke off ({type(exc).__name__})", "upstream_unavailable"
        ) from exc
    finally:
        response.release()


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


def _failure(status: int, message: str, code: str) -> UpstreamError:
    """The gateway's answer when the upstream fails: `status` with an OpenAI-style upstream_error."""
    return UpstreamError(status, error_body(message, type="upstream_error", code=code))
