"""A fake OpenAI-compatible server for harvest tests: counts requests, injects latency and faults.
It streams too (`"stream": true`: one chunk per token, then the usage chunk when
`stream_options.include_usage` asks for it).

Run it on loopback with `serve(app)` (uvicorn in a thread). Answers are deterministic functions of the
prompt and the choice index, so tests can check records without a model. Also runnable as a process:
`python tests/data/fake_openai.py PORT --latency 0.1` (benchmarks/harvest_throughput.py does); with
PORT 0 it binds a free port and its first line of output says which (`listening on http://HOST:PORT`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

PROBE_TEXTS = {"Say hello.", "Hello"}


@dataclass
class FakeSettings:
    latency: float = 0.0
    fail_rate: float = 0.0
    """Fraction of completion requests answered with a fault (429 / 500 / a hang past the timeout)."""
    hang: float = 1.0
    """Seconds a 'timeout' fault sleeps before answering."""
    logprobs: str = "ids"
    """ids | strings (ignores return_tokens_as_token_ids) | none (ignores logprobs) | reject (400s them)."""
    max_top: int = 20
    tokens: int = 6
    honor_n: bool = True
    model: str = "fake-teacher"
    seed: int = 0
    retry_after: str = "0"
    canned: bool = False
    """Answer every prompt with the same pre-encoded body (benchmarks: keep the server's CPU cost low)."""
    reject_containing: str = ""
    """Answer 400 to prompts containing this text (a prompt the provider refuses)."""


def _text_of(body: dict[str, Any]) -> str:
    if "messages" in body:
        return str(body["messages"][-1]["content"])
    return str(body.get("prompt", ""))


def _tok(text: str, choice: int, pos: int) -> int:
    return int(hashlib.sha256(f"{text}|{choice}|{pos}".encode()).hexdigest()[:6], 16) % 30000


class FakeOpenAI:
    def __init__(self, settings: FakeSettings | None = None):
        self.settings = settings or FakeSettings()
        self.asked: Counter[str] = Counter()
        """Completion requests per prompt text (faulted ones included; probe prompts excluded)."""
        self.answered: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        """time.monotonic() of each completion request (probe excluded)."""
        self.probes = 0
        """Probe requests received."""
        self._rng = random.Random(self.settings.seed)
        self._canned: dict[tuple[Any, ...], bytes] = {}
        self.app = Starlette(
            routes=[
                Route("/health", lambda r: JSONResponse({"status": "ok"})),
                Route("/v1/models", self.models),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/completions", self.completions, methods=["POST"]),
            ]
        )

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.settings.model, "object": "model"}]})

    async def chat(self, request: Request) -> Response:
        return await self._answer(request, chat=True)

    async def completions(self, request: Request) -> Response:
        return await self._answer(request, chat=False)

    async def _answer(self, request: Request, chat: bool) -> Response:
        s = self.settings
        body = json.loads(await request.body())
        text = _text_of(body)
        probe = text in PROBE_TEXTS
        if probe:
            self.probes += 1
        else:
            self.asked[text] += 1
            self.bodies.append(body)
            self.arrivals.append(time.monotonic())
        wants_logprobs = bool(body.get("logprobs")) or "top_logprobs" in body
        if s.logprobs == "reject" and wants_logprobs:
            return JSONResponse({"error": {"message": "logprobs are not supported"}}, status_code=400)
        if s.reject_containing and s.reject_containing in text:
            return JSONResponse({"error": {"message": "prompt refused"}}, status_code=400)
        if s.latency:
            await asyncio.sleep(s.latency)
        if not probe and self._rng.random() < s.fail_rate:
            fault = self._rng.choice(["429", "500", "hang"])
            if fault == "429":
                return JSONResponse(
                    {"error": {"message": "slow down"}},
                    status_code=429,
                    headers={"Retry-After": s.retry_after},
                )
            if fault == "500":
                return JSONResponse({"error": {"message": "internal error"}}, status_code=500)
            await asyncio.sleep(s.hang)
        if not probe:
            self.answered[text] += 1
        if body.get("stream"):
            return StreamingResponse(self._chunks(body, text, chat), media_type="text/event-stream")
        if s.canned:
            key = (
                chat,
                body.get("n"),
                body.get("top_logprobs"),
                body.get("logprobs"),
                body.get("return_tokens_as_token_ids"),
                body.get("max_tokens"),
            )
            if key not in self._canned:
                self._canned[key] = self._body(body, "canned", chat)
            return Response(self._canned[key], media_type="application/json")
        return Response(self._body(body, text, chat), media_type="application/json")

    def _body(self, body: dict[str, Any], text: str, chat: bool) -> bytes:
        s = self.settings
        wants_logprobs = bool(body.get("logprobs")) or "top_logprobs" in body
        n = int(body.get("n") or 1) if s.honor_n else 1
        k = int(body.get("top_logprobs") or 0) if chat else int(body.get("logprobs") or 0)
        signal = s.logprobs not in ("none",) and wants_logprobs
        ids = s.logprobs == "ids" and bool(body.get("return_tokens_as_token_ids"))
        choices = [
            self._choice(text, i, min(k, s.max_top), signal, ids, chat, int(body.get("max_tokens", 16)))
            for i in range(n)
        ]
        prompt_tokens = len(text) // 4 + 1
        completion_tokens = sum(c.pop("_len") for c in choices)
        return json.dumps(
            {
                "id": "cmpl-fake",
                "object": "chat.completion" if chat else "text_completion",
                "model": s.model,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        ).encode()

    def _chunks(self, body: dict[str, Any], text: str, chat: bool) -> Iterator[bytes]:
        """The answer `_body` gives, as server-sent events: a chunk per token of each choice."""
        whole = json.loads(self._body(body, text, chat))
        kind = "chat.completion.chunk" if chat else "text_completion"

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk = {"id": "cmpl-fake", "object": kind, "model": whole["model"], "choices": choices, **extra}
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        for choice in whole["choices"]:
            content = choice["message"]["content"] if chat else choice["text"]
            for n, piece in enumerate(content.split(" ")):
                piece = piece if n == 0 else " " + piece
                delta = {"delta": {"content": piece}} if chat else {"text": piece}
                yield event([{"index": choice["index"], **delta, "finish_reason": None}])
            end = {"delta": {}} if chat else {"text": ""}
            yield event([{"index": choice["index"], **end, "finish_reason": choice["finish_reason"]}])
        if (body.get("stream_options") or {}).get("include_usage"):
            yield event([], usage=whole["usage"])
        yield b"data: [DONE]\n\n"

    def _choice(
        self, text: str, index: int, k: int, signal: bool, ids: bool, chat: bool, max_tokens: int
    ) -> dict[str, Any]:
        length = min(self.settings.tokens, max_tokens)
        toks = [_tok(text, index, p) for p in range(length)]
        name = (lambda t: f"token_id:{t}") if ids else (lambda t: f"t{t}")
        completion = " ".join(f"t{t}" for t in toks)
        finish = "length" if length == max_tokens else "stop"
        choice: dict[str, Any] = {"index": index, "finish_reason": finish, "_len": length}
        tops = [
            [(name(t if j == 0 else (t + j) % 30000), -0.1 * (j + 1) - 0.01 * p) for j in range(k)]
            for p, t in enumerate(toks)
        ]
        if chat:
            choice["message"] = {"role": "assistant", "content": completion}
            choice["logprobs"] = (
                {
                    "content": [
                        {
                            "token": name(t),
                            "logprob": -0.1 - 0.01 * p,
                            "bytes": None,
                            "top_logprobs": [{"token": a, "logprob": lp, "bytes": None} for a, lp in tops[p]],
                        }
                        for p, t in enumerate(toks)
                    ]
                }
                if signal
                else None
            )
        else:
            choice["text"] = completion
            choice["logprobs"] = (
                {
                    "tokens": [name(t) for t in toks],
                    "token_logprobs": [-0.1 - 0.01 * p for p in range(length)],
                    "top_logprobs": [dict(row) for row in tops],
                    "text_offset": list(range(length)),
                }
                if signal
                else None
            )
        return choice


def bound_socket(port: int = 0) -> socket.socket:
    """A loopback TCP socket bound to `port` (0: any free one, read back with getsockname)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A loopback base URL where connections are refused: its port is held bound, but nothing listens."""
    with bound_socket() as sock:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run `app` with uvicorn on loopback in a thread; yields its base URL (`http://127.0.0.1:P/v1`).
    The socket is bound (port 0) before the server starts, so no other process can take the port."""
    sock = bound_socket()
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="error", lifespan="off", timeout_keep_alive=30, backlog=1024)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int, help="0: any free port, announced on the first line")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=6)
    parser.add_argument("--canned", action="store_true")
    args = parser.parse_args()
    settings = FakeSettings(
        latency=args.latency, fail_rate=args.fail_rate, tokens=args.tokens, canned=args.canned
    )
    listening = bound_socket(args.port)
    listening.listen(1024)  # connections from now on wait in the backlog until uvicorn accepts them
    print(f"listening on http://127.0.0.1:{listening.getsockname()[1]}", flush=True)
    config = uvicorn.Config(FakeOpenAI(settings).app, log_level="error", backlog=1024, timeout_keep_alive=60)
    uvicorn.Server(config).run(sockets=[listening])
