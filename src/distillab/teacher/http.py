"""A teacher behind an OpenAI-compatible HTTP API (vLLM, SGLang, `transformers serve`, hosted APIs).

All traffic goes through one `httpx.AsyncClient`; pass `transport=` to swap the network out in tests.
This module classifies failures but does not retry: pacing, retries and budgets belong to the caller
(`distillab.data.harvest`), which sees every attempt and can count it against the provider's limits.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from distillab.errors import ConfigError, TeacherError
from distillab.models.samples import Sample
from distillab.openai_wire.parse import parse_response
from distillab.teacher.base import Capabilities, Generation, PromptInput, RequestRejected, SamplingParams

RETRYABLE_STATUS = frozenset({408, 409, 429})
CONNECTIONS_PER_POOL = 4
"""httpcore 1.0 scans its whole pool on every request (pydantic/httpx2#1169 tracks the fix), so CPU per
request grows with pool size: measured on loopback at 64 in flight, one pool of 64 cost ~10 ms of CPU
per request, pools of 16 ~3.6 ms, of 4 ~2.4 ms. So wide harvests spread requests over small pools."""


NO_DRAWS = (
    "sampled signal (--draws) needs a local teacher (a model directory or a .gguf file): an "
    "OpenAI-compatible server returns only its top-k alternatives (at most 20), not the full "
    "distribution that ids must be drawn from; use --top-logprobs with a server"
)
"""Why an HTTP teacher cannot give draws. (Drawing through the API would take K one-token samples per
position: a request per prefix, K times the cost of a whole harvest per token.)"""


class RetryableTeacherError(TeacherError):
    """A failure worth retrying (429, 5xx, timeout, connection error). `retry_after` is the server's hint."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        """HTTP status, or None when no answer came (timeout, connection error)."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def normalize_base_url(url: str) -> str:
    """`http://host:port` and `http://host:port/v1/` both mean `http://host:port/v1`."""
    url = url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]


class HTTPTeacher:
    """An OpenAI-compatible endpoint as a `Teacher`.

    `base_url` is the API root (e.g. `http://127.0.0.1:8000/v1`). The API key is read from the
    environment variable `api_key_env` so it never appears in flags, manifests or logs. `model` is the
    server-side model id; when omitted the first model listed by `GET /models` is used.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.endpoint = normalize_base_url(base_url)
        self.name = model or ""
        self.capabilities: Capabilities | None = None
        self.api_key_env = api_key_env
        key = os.environ.get(api_key_env) if api_key_env else None
        self.has_api_key = bool(key)
        self._timeout = timeout
        self._probe_lock = asyncio.Lock()
        # One client per CONNECTIONS_PER_POOL connections (one client when a transport is given), each
        # request going to the least busy: same behaviour as one client, without the pool-scan cost.
        pools = 1 if transport is not None else -(-max_connections // CONNECTIONS_PER_POOL)
        per_pool = -(-max_connections // pools)
        tls = ssl.create_default_context()  # shared: building one per client costs ~75 ms each
        self._clients = [
            httpx.AsyncClient(
                base_url=self.endpoint,
                headers={"Authorization": f"Bearer {key}"} if key else {},
                timeout=timeout,
                transport=transport,
                verify=tls,
                limits=httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool),
            )
            for _ in range(pools)
        ]
        self._busy = [0] * pools

    async def request_json(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, root: bool = False
    ) -> Any:
        """One HTTP call, with failures sorted into retryable, rejected, or other `TeacherError`s.

        ``root``: ``path`` is from the server's root (vLLM's /tokenize), not from the /v1 base URL."""
        url = f"{self.endpoint.removesuffix('/v1') if root else self.endpoint}/{path}"
        pool = self._busy.index(min(self._busy))
        self._busy[pool] += 1
        try:
            response = await self._clients[pool].request(method, url if root else path, json=body)
        except httpx.TimeoutException as exc:
            raise RetryableTeacherError(
                f"{url}: no answer within {self._timeout:g}s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableTeacherError(f"{url}: {type(exc).__name__}: {exc or 'connection failed'}") from exc
        finally:
            self._busy[pool] -= 1
        status = response.status_code
        if status in RETRYABLE_STATUS or status >= 500:
            raise RetryableTeacherError(
                f"{url} answered {status}: {_server_message(response)}",
                parse_retry_after(response.headers.get("retry-after")),
                status,
            )
        if status >= 400:
            hint = ""
            if status in (401, 403):
                hint = f" (is the API key in ${self.api_key_env} set and valid?)"
            raise RequestRejected(status, f"{url} answered {status}: {_server_message(response)}{hint}")
        try:
            return response.json()
        except ValueError as exc:
            raise TeacherError(
                f"{url} answered {status} with a body that is not JSON: {response.text[:200]!r}"
            ) from exc

    async def resolve_model(self) -> str:
        """Fill `name` from `GET /models` when the user gave no model id."""
        if self.name:
            return self.name
        hint = "; pass the server's model id explicitly (distillab generate --model ID)"
        try:
            body = await self.request_json("GET", "models")
        except (RetryableTeacherError, RequestRejected) as exc:
            if isinstance(exc, RetryableTeacherError) and exc.status is None:
                raise  # not reachable (yet): worth retrying
            # Some servers (e.g. `transformers serve` without a hub cache) cannot list models.
            raise TeacherError(f"could not list models: {exc}{hint}") from exc
        data = body.get("data") if isinstance(body, dict) else None
        if not data or not isinstance(data[0], dict) or not data[0].get("id"):
            raise TeacherError(f"{self.endpoint}/models lists no model{hint}")
        self.name = str(data[0]["id"])
        return self.name

    async def probe(
        self,
        kind: Literal["chat", "completion"] = "chat",
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> Capabilities:
        """Find (once) whether the server returns log-probabilities, how many alternatives, and ids.
        `before` is awaited before each request the probe sends (a harvest's rate limits count them)."""
        from distillab.teacher.probe import probe_http  # probe builds requests through this class

        async with self._probe_lock:
            if self.capabilities is None:
                if not self.name and before is not None:
                    await before()
                await self.resolve_model()
                self.capabilities = await probe_http(self, kind, before)
        return self.capabilities

    def request_body(
        self, prompt: PromptInput, params: SamplingParams, n: int, caps: Capabilities | None
    ) -> dict[str, Any]:
        """The JSON body for one request; log-probability fields only when the server accepts them."""
        chat = not isinstance(prompt, str)
        body: dict[str, Any] = {
            "model": self.name,
            "n": n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        body["messages" if chat else "prompt"] = prompt
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs and (caps is None or caps.mode == "topk"):
            if chat:
                body["logprobs"] = True
                if params.top_logprobs:
                    body["top_logprobs"] = params.top_logprobs
            else:
                body["logprobs"] = params.top_logprobs
            if caps is not None and caps.token_ids:
                body["return_tokens_as_token_ids"] = True
        return body

    async def generate(self, prompt: PromptInput, params: SamplingParams, n: int = 1) -> Generation:
        if params.draws:
            raise ConfigError(f"{self.endpoint}: {NO_DRAWS}")
        chat = not isinstance(prompt, str)
        caps = self.capabilities or await self.probe("chat" if chat else "completion")
        body = self.request_body(prompt, params, n, caps)
        path = "chat/completions" if chat else "completions"
        answer = await self.request_json("POST", path, body)
        samples, prompt_tokens, completion_tokens = parse_response(
            answer, chat, want_top=params.top_logprobs > 0, url=f"{self.endpoint}/{path}"
        )
        return Generation(samples=samples, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    async def score(
        self, prompt: PromptInput, completion: str, top_k: int, draws: int = 0, seed: int | None = None
    ) -> Generation:
        """Log-probabilities of a given completion from the server: its tokenizer's routes (vLLM's
        /tokenize, as `distillab serve` has them) split prompt and completion as training will (see
        `distillab.models.given`), then `/completions` with the token ids, `echo` and `max_tokens: 0`.
        A server cannot give `draws` (ConfigError)."""
        if draws:
            raise ConfigError(f"{self.endpoint}: {NO_DRAWS}")
        head, tail = await self._given_tokens(prompt, completion)
        body = {
            "model": self.name or await self.resolve_model(),
            "prompt": head + tail,
            "max_tokens": 0,
            "echo": True,
            "temperature": 0.0,
            "logprobs": top_k,
            "return_tokens_as_token_ids": True,
        }
        answer = await self.request_json("POST", "completions", body)
        samples, _, _ = parse_response(answer, False, want_top=top_k > 0, url=f"{self.endpoint}/completions")
        if (
            len(samples) != 1
            or samples[0].token_ids is None
            or len(samples[0].token_ids) < len(head) + len(tail)
        ):
            raise TeacherError(
                f"{self.endpoint}/completions did not echo the prompt's token ids and log-probabilities; "
                "scoring needs a server with echo (vLLM, distillab serve)"
            )
        echoed, n = samples[0], len(head)
        assert echoed.token_ids is not None and echoed.token_logprobs is not None
        sample = Sample(
            text=completion,
            finish_reason="stop",
            tokens=[],
            token_ids=echoed.token_ids[n : n + len(tail)],
            token_logprobs=echoed.token_logprobs[n : n + len(tail)],
            top_ids=(echoed.top_ids or [[] for _ in echoed.token_ids])[n : n + len(tail)],
            top_logprobs=(echoed.top_logprobs or [[] for _ in echoed.token_ids])[n : n + len(tail)],
        )
        return Generation(samples=[sample], prompt_tokens=len(head) + len(tail), completion_tokens=0)

    async def _given_tokens(self, prompt: PromptInput, completion: str) -> tuple[list[int], list[int]]:
        async def tokenize(body: dict[str, Any]) -> list[int]:
            try:
                answer = await self.request_json("POST", "tokenize", body, root=True)
            except RequestRejected as exc:
                raise TeacherError(
                    f"{exc}; scoring a given completion needs the server's tokenizer (vLLM's /tokenize)"
                ) from exc
            tokens = answer.get("tokens") if isinstance(answer, dict) else None
            if not isinstance(tokens, list):
                raise TeacherError(f"{self.endpoint.removesuffix('/v1')}/tokenize answered without 'tokens'")
            return [int(t) for t in tokens]

        if isinstance(prompt, str):
            head = await tokenize({"prompt": prompt, "add_special_tokens": True})
            tail = await tokenize({"prompt": completion, "add_special_tokens": False})
            info = await self.request_json("GET", "tokenizer_info", root=True)
            eos = info.get("eos_token") if isinstance(info, dict) else None
            if eos:
                tail += await tokenize({"prompt": eos, "add_special_tokens": False})
            return head, tail
        head = await tokenize({"messages": prompt, "add_generation_prompt": True})
        full = await tokenize(
            {
                "messages": [*prompt, {"role": "assistant", "content": completion}],
                "add_generation_prompt": False,
            }
        )
        if full[: len(head)] != head:
            raise TeacherError(
                f"{self.endpoint}: the chat template renders the prompt differently once the answer follows; "
                "cannot tell which tokens are the completion's"
            )
        return head, full[len(head) :]

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
