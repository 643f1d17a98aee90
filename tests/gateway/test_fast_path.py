"""The gateway's model routes run on GatewayApp's fast path (past FastAPI's middleware stack): their
bodies are bounded, and their errors still leave in OpenAI's shape. Real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillab.db.store import Store
from distillab.gateway import fastpath
from distillab.gateway.app import create_gateway
from distillab.serving.background import run_in_background

CHAT = [{"role": "user", "content": "hello"}]


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "gateway.db"))
    yield s
    s.close()


def test_a_body_over_the_limit_is_a_413_declared_or_streamed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastpath, "MAX_BODY_BYTES", 1000)
    _, key = store.create_key("ann")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * 2000 + b'"}]}'
    with run_in_background(create_gateway(store, "http://127.0.0.1:9/v1")) as base:
        declared = httpx.post(base + "/v1/chat/completions", content=big, headers=headers)
        streamed = httpx.post(base + "/v1/completions", content=iter([big[:600], big[600:]]), headers=headers)
        small = httpx.post(
            base + "/v1/chat/completions", json={"model": "m", "messages": CHAT}, headers=headers
        )
    for reply in (declared, streamed):
        assert reply.status_code == 413, reply.text
        assert reply.json()["error"]["code"] == "request_too_large"
    assert small.status_code == 502  # under the limit: forwarded (nothing listens upstream)


def test_an_unexpected_error_on_the_fast_path_is_a_500_in_openai_shape(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = store.create_key("bob")
    app = create_gateway(store, "http://127.0.0.1:9/v1")

    async def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("boom")

    with run_in_background(app) as base:
        monkeypatch.setattr(app.state.relay, "handle", broken)
        reply = httpx.post(
            base + "/v1/chat/completions",
            json={"model": "m", "messages": CHAT},
            headers={"Authorization": f"Bearer {key}"},
        )
        health = httpx.get(base + "/health")
    assert reply.status_code == 500
    assert reply.json()["error"] == {
        "message": "internal server error",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert health.status_code == 200  # the other routes still go through FastAPI
