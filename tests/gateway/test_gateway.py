"""The gateway end to end: the official openai client through it (local and proxy backends), keys,
the request log, rate limits, account states, the admin API and metrics. Real servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from distillab.db.store import Store
from distillab.gateway.app import create_gateway
from distillab.gateway.keycache import KEY_TTL_S
from distillab.gateway.policy import Limits
from distillab.models.generate import Engine
from distillab.serving.app import create_app
from distillab.serving.background import run_in_background

CHAT = [{"role": "user", "content": "Ann has 3 pens. She gets 4 more."}]
ADMIN = "admin-secret-for-tests"


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> Engine:
    return Engine.load(tiny_model_dir)


@pytest.fixture(scope="module")
def upstream(engine: Engine) -> Iterator[str]:
    """A plain `distillab serve` app: the upstream for proxy mode."""
    with run_in_background(create_app(engine, model_name="tiny")) as url:
        yield url + "/v1"


def gateway(store: Store, backend: Any, **kw: Any) -> Any:
    return run_in_background(create_gateway(store, backend, admin_token=ADMIN, **kw))


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(str(tmp_path / "gateway.db"))
    yield s
    s.close()


def use_client(base: str, key: str) -> tuple[str, str]:
    client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model="tiny",
        messages=CHAT,
        max_tokens=5,
        logprobs=True,  # type: ignore[arg-type]
        top_logprobs=2,
    )
    assert reply.choices[0].logprobs is not None and len(reply.choices[0].logprobs.content or []) >= 1
    stream = client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=5, stream=True)  # type: ignore[arg-type]
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    done = client.completions.create(model="tiny", prompt="import json", max_tokens=4)
    assert done.choices[0].text is not None

    async def async_call() -> str:
        async with openai.AsyncOpenAI(base_url=base + "/v1", api_key=key, max_retries=0) as aclient:
            answer = await aclient.chat.completions.create(model="tiny", messages=CHAT, max_tokens=3)  # type: ignore[arg-type]
            return answer.choices[0].message.content or ""

    asyncio.run(async_call())
    return reply.choices[0].message.content or "", streamed


@pytest.mark.parametrize("backend", ["local", "proxy"])
def test_openai_client_through_the_gateway_is_logged(
    backend: str, engine: Engine, upstream: str, store: Store, tmp_path: Path
) -> None:
    info, key = store.create_key("alice", org="acme", payment_id="card-1")
    target = create_app(engine, model_name="tiny") if backend == "local" else upstream
    with gateway(store, target) as base:
        content, streamed = use_client(base, key)
        models = openai.OpenAI(base_url=base + "/v1", api_key=key).models.list()
        assert [m.id for m in models.data] == ["tiny"]
    logs = list(store.iter_logs(account="alice"))
    assert len(logs) == 4 and all(r["status"] == 200 and r["key_id"] == info.key_id for r in logs)
    chat, stream, completion, _ = logs
    assert chat["response"] == content and chat["completion_tokens"] >= 1 and chat["org"] == "acme"
    assert chat["messages"] == CHAT and chat["params"]["top_logprobs"] == 2 and chat["payment_id"] == "card-1"
    assert stream["response"] == streamed and stream["params"]["stream"] is True
    assert completion["endpoint"] == "/v1/completions" and completion["prompt"] == "import json"
    files = b"".join(f.read_bytes() for f in tmp_path.glob("gateway.db*"))  # the WAL too
    assert files and key.split(".")[1][:12].encode() not in files


def test_echo_and_the_tokenizer_routes_pass_through_keyed_and_logged(
    engine: Engine, upstream: str, store: Store
) -> None:
    """What lm-eval's local-completions sends, through the gateway: the tokenizer routes (keyed), then
    echoed log-probabilities of token-id prompts, logged like any request."""
    _, key = store.create_key("eve")
    with gateway(store, upstream) as base:
        assert httpx.get(base + "/tokenizer_info").status_code == 401
        headers = {"Authorization": f"Bearer {key}"}
        info = httpx.get(base + "/tokenizer_info", headers=headers).json()
        assert info["eos_token"] == engine.tokenizer.eos_token
        tokens = httpx.post(
            base + "/tokenize", headers=headers, json={"prompt": "import json", "add_special_tokens": False}
        ).json()["tokens"]
        assert tokens == engine.tokenizer("import json", add_special_tokens=False)["input_ids"]
        text = httpx.post(base + "/detokenize", headers=headers, json={"tokens": tokens}).json()["prompt"]
        assert text == engine.tokenizer.decode(tokens)
        client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
        reply = client.completions.create(
            model="tiny", prompt=[tokens, tokens], max_tokens=1, logprobs=1, echo=True, temperature=0
        )
        assert [c.index for c in reply.choices] == [0, 1]
        lp = reply.choices[0].logprobs
        assert lp is not None and lp.token_logprobs is not None and lp.token_logprobs[0] is None
        assert len(lp.token_logprobs) == len(tokens) + 1
        # The log keeps answers, not the echoed prompt: the same greedy answers asked without echo.
        plain = client.completions.create(model="tiny", prompt=[tokens], max_tokens=3, temperature=0)
        client.completions.create(
            model="tiny", prompt=[tokens], max_tokens=3, logprobs=0, echo=True, temperature=0
        )
        said = client.completions.create(model="tiny", prompt="import json", max_tokens=3, temperature=0)
        client.completions.create(model="tiny", prompt="import json", max_tokens=3, echo=True, temperature=0)
    logged, plain_ids, echoed_ids, plain_text, echoed_text = list(store.iter_logs(account="eve"))
    assert logged["endpoint"] == "/v1/completions" and logged["params"]["echo"] is True
    assert plain_ids["response"] == plain.choices[0].text and echoed_ids["response"] == plain.choices[0].text
    assert plain_text["response"] == said.choices[0].text and echoed_text["response"] == said.choices[0].text


def test_upstream_errors_become_openai_errors(store: Store, upstream: str) -> None:
    _, key = store.create_key("bob")
    with gateway(store, upstream) as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="no-such-model", messages=CHAT, max_tokens=2)  # type: ignore[arg-type]
    with gateway(store, "http://127.0.0.1:9/v1") as base:  # nothing listens on the discard port
        reply = httpx.post(
            base + "/v1/chat/completions",
            json={"model": "tiny", "messages": CHAT},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert reply.status_code == 502 and reply.json()["error"]["code"] == "upstream_unavailable"
    statuses = [r["status"] for r in store.iter_logs(account="bob")]
    assert statuses[-1] == 502 and statuses[0] in (400, 404)


def test_keys_are_required_and_checked(store: Store, upstream: str) -> None:
    info, key = store.create_key("carol")
    with gateway(store, upstream) as base:
        for headers in ({}, {"Authorization": "Bearer dl-000000000000.wrong"}, {"Authorization": key}):
            reply = httpx.post(
                base + "/v1/chat/completions", json={"model": "tiny", "messages": CHAT}, headers=headers
            )
            assert reply.status_code == 401 and "error" in reply.json()
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base + "/v1", api_key="sk-not-ours", max_retries=0).models.list()
        assert store.revoke_key(info.key_id)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0).chat.completions.create(
                model="tiny", messages=CHAT, max_tokens=2
            )  # type: ignore[arg-type]
    assert list(store.iter_logs(account="carol")) == []


def test_a_revoked_key_is_refused_at_once_here_and_within_the_cache_ttl_elsewhere(
    store: Store, upstream: str, clock: Any
) -> None:
    here, key = store.create_key("hank")
    elsewhere, other_key = store.create_key("hank")
    body = {"model": "tiny", "messages": CHAT, "max_tokens": 1}
    with gateway(store, upstream, clock=clock) as base:

        def status(secret: str) -> int:
            return httpx.post(
                base + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {secret}"}
            ).status_code

        assert status(key) == 200 and status(other_key) == 200  # verified, and now remembered
        admin = {"Authorization": f"Bearer {ADMIN}"}
        assert httpx.delete(base + f"/admin/keys/{here.key_id}", headers=admin).status_code == 200
        assert status(key) == 401  # revoked through this gateway: at once
        assert store.revoke_key(elsewhere.key_id)  # by `distillab keys revoke` or another replica
        assert status(other_key) == 200  # still remembered here...
        clock.now += KEY_TTL_S
        assert status(other_key) == 401  # ...until the cache's TTL is up
    assert {r["status"] for r in store.iter_logs(account="hank")} == {200}  # refused keys are not logged


def test_admin_api_needs_the_admin_token(store: Store, upstream: str) -> None:
    _, key = store.create_key("dave")
    with gateway(store, upstream) as base:
        for headers in ({}, {"Authorization": f"Bearer {key}"}, {"Authorization": "Bearer nope"}):
            assert httpx.get(base + "/admin/accounts", headers=headers).status_code == 401
            assert httpx.get(base + "/admin/logs", headers=headers).status_code == 401
        admin = {"Authorization": f"Bearer {ADMIN}"}
        made = httpx.post(base + "/admin/keys", json={"account": "erin", "org": "acme"}, headers=admin)
        assert made.status_code == 201 and made.json()["key"].startswith("dl-")
        names = {a["name"] for a in httpx.get(base + "/admin/accounts", headers=admin).json()["data"]}
        assert names == {"dave", "erin"}
        listed = httpx.get(base + "/admin/keys", params={"account": "erin"}, headers=admin).json()["data"]
        assert len(listed) == 1 and "key" not in listed[0] and "hash" not in listed[0]
        blank = httpx.post(base + "/admin/keys", json={"account": "\r"}, headers=admin)  # found by the fuzzer
        assert blank.status_code == 400 and blank.json()["error"]["param"] == "account"
    with run_in_background(create_gateway(store, upstream)) as base:  # no admin token: admin API off
        assert httpx.get(base + "/admin/accounts", headers={"Authorization": "Bearer x"}).status_code == 403


def test_rate_limits_answer_429_with_retry_after(store: Store, upstream: str, clock: Any) -> None:
    _, key = store.create_key("frank")
    auth = {"Authorization": f"Bearer {key}"}
    body = {"model": "tiny", "messages": CHAT, "max_tokens": 2}
    with gateway(store, upstream, limits=Limits(rpm=2), clock=clock) as base:  # no refill meanwhile
        codes = [httpx.post(base + "/v1/chat/completions", json=body, headers=auth) for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert (
            int(codes[2].headers["Retry-After"]) >= 1
            and codes[2].json()["error"]["code"] == "rate_limit_exceeded"
        )
        metrics = httpx.get(base + "/metrics").text
        assert 'distillab_rejections_total{reason="rate_limited"} 1.0' in metrics
    decisions = [(r["status"], r["decision"]) for r in store.iter_logs(account="frank")]
    assert decisions == [(200, "allow"), (200, "allow"), (429, "rate_limited")]


def test_block_and_degrade_states(store: Store, upstream: str) -> None:
    _, key = store.create_key("gina")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    auth = {"Authorization": f"Bearer {key}"}
    body = {"model": "tiny", "messages": CHAT, "max_tokens": 20, "logprobs": True, "top_logprobs": 3}
    with gateway(store, upstream, limits=Limits(degrade_max_tokens=2)) as base:
        assert httpx.post(base + "/v1/chat/completions", json=body, headers=auth).json()["choices"][0][
            "logprobs"
        ]
        change = {"state": "degrade", "reason": "looks like logprob harvesting"}
        assert httpx.put(base + "/admin/accounts/gina/state", json=change, headers=admin).status_code == 200
        degraded = httpx.post(base + "/v1/chat/completions", json=body, headers=auth).json()
        assert degraded["choices"][0].get("logprobs") is None and degraded["usage"]["completion_tokens"] <= 2
        httpx.put(
            base + "/admin/accounts/gina/state", json={"state": "block", "reason": "campaign"}, headers=admin
        )
        blocked = httpx.post(base + "/v1/chat/completions", json=body, headers=auth)
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "account_blocked"
        assert httpx.put(base + "/admin/accounts/nobody/state", json=change, headers=admin).status_code == 404
    logs = list(store.iter_logs(account="gina"))
    assert [r["decision"] for r in logs] == ["allow", "degrade", "block"]
    assert store.get_state("gina") == ("block", "campaign")


def test_a_failing_store_answers_503_and_no_answer_leaves_unlogged(
    store: Store, upstream: str, tmp_path: Path
) -> None:
    import sqlite3

    _, key = store.create_key("alice")
    with gateway(store, upstream) as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
        client.completions.create(model="tiny", prompt="import json", max_tokens=2)
        with sqlite3.connect(tmp_path / "gateway.db") as other:  # the log table disappears under the gateway
            other.execute("ALTER TABLE requests RENAME TO requests_away")
        with pytest.raises(openai.APIStatusError) as failed:
            client.completions.create(model="tiny", prompt="import json", max_tokens=2)
        assert failed.value.status_code == 503 and failed.value.response.headers["retry-after"] == "1"
        assert failed.value.body["code"] == "store_unavailable"  # type: ignore[index]
        with pytest.raises(openai.APIError, match="store is unavailable"):  # streamed: the end never comes
            for _ in client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=3, stream=True):  # type: ignore[arg-type]
                pass
        assert (
            'distillab_rejections_total{reason="store_unavailable"} 2.0' in httpx.get(base + "/metrics").text
        )
        with sqlite3.connect(tmp_path / "gateway.db") as other:  # back: the gateway recovers by itself
            other.execute("ALTER TABLE requests_away RENAME TO requests")
        client.completions.create(model="tiny", prompt="import json", max_tokens=2)
    assert len(list(store.iter_logs(account="alice"))) == 2  # the refused one was not answered, nor logged
