"""HTTPTeacher through a swapped transport: parsing, probing, failure classes, the API key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillab.errors import ConfigError, TeacherError
from distillab.teacher import HTTPTeacher, load_teacher
from distillab.teacher.base import Capabilities, RequestRejected, SamplingParams
from distillab.teacher.http import RetryableTeacherError, normalize_base_url

URL = "http://teacher.test/v1"
CHAT = [{"role": "user", "content": "hi"}]


def _entry(token: str, logprob: float, alts: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "token": token,
        "logprob": logprob,
        "bytes": None,
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in alts],
    }


def _chat_answer(tokens: list[str], k: int, ids: bool = False) -> dict[str, Any]:
    """A chat answer with top-k alternatives per token; k < 0: no log-probabilities at all."""
    name = (lambda i: f"token_id:{i}") if ids else (lambda i: f"tok{i}")
    # Alternatives deliberately out of order: the parser must sort them.
    content = [
        _entry(name(i), -0.5, [(name(i + j), -0.5 - j) for j in reversed(range(k))])
        for i in range(len(tokens))
    ]
    return {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(tokens)},
                "finish_reason": "stop",
                "logprobs": {"content": content} if k >= 0 else None,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": len(tokens)},
    }


def _teacher(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> HTTPTeacher:
    return HTTPTeacher(URL, model="m", transport=httpx.MockTransport(handler), **kw)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_chat_logprobs_with_token_ids() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx.Response(
            200,
            json=_chat_answer(
                ["a", "b"], body.get("top_logprobs", 0), ids=bool(body.get("return_tokens_as_token_ids"))
            ),
        )

    async def go() -> Any:
        teacher = _teacher(handler)
        caps = await teacher.probe()
        generation = await teacher.generate(CHAT, SamplingParams(top_logprobs=3, max_tokens=5), n=1)
        await teacher.aclose()
        return caps, generation

    caps, generation = _run(go())
    assert (caps.mode, caps.top_k, caps.token_ids) == ("topk", 20, True)
    assert "with token ids" in caps.describe()
    sample = generation.samples[0]
    assert sample.token_ids == [0, 1] and sample.tokens == [] and sample.token_logprobs == [-0.5, -0.5]
    assert sample.top_ids == [[0, 1, 2], [1, 2, 3]] and sample.top_logprobs[0] == [-0.5, -1.5, -2.5]
    assert seen[-1]["return_tokens_as_token_ids"] is True and seen[-1]["top_logprobs"] == 3
    assert (generation.prompt_tokens, generation.completion_tokens) == (3, 2)


def test_completions_logprobs_as_strings() -> None:
    answer = {
        "choices": [
            {
                "index": 1,
                "text": "B",
                "finish_reason": "length",
                "logprobs": {
                    "tokens": ["B"],
                    "token_logprobs": [-0.2],
                    "top_logprobs": [{"C": -3.0, "B": -0.2}],
                },
            },
            {"index": 0, "text": "A", "finish_reason": "stop", "logprobs": None},
        ]
    }
    generation = _run(_generate_raw(_teacher(lambda r: httpx.Response(200, json=answer))))
    first, second = generation.samples
    assert first.text == "A" and first.token_logprobs is None
    assert (
        second.tokens == ["B"] and second.top_tokens == [["B", "C"]] and second.top_logprobs == [[-0.2, -3.0]]
    )
    assert generation.completion_tokens == 1  # no usage in the answer: counted from tokens


async def _generate_raw(teacher: HTTPTeacher) -> Any:
    """A completions request with the probe's verdict already known (top-2 as strings)."""
    teacher.capabilities = Capabilities(mode="topk", top_k=2)
    try:
        return await teacher.generate("prompt", SamplingParams(top_logprobs=2), n=2)
    finally:
        await teacher.aclose()


def test_probe_steps_down_when_fields_are_rejected() -> None:
    def strict(request: httpx.Request) -> httpx.Response:  # like OpenAI: unknown fields are a 400
        body = json.loads(request.content)
        if "return_tokens_as_token_ids" in body:
            return httpx.Response(400, json={"error": {"message": "Unrecognized request argument"}})
        return httpx.Response(200, json=_chat_answer(["x"], min(5, body.get("top_logprobs", 0))))

    caps = _run(_teacher(strict).probe())
    assert (caps.mode, caps.top_k, caps.token_ids) == ("topk", 5, False) and "rejected 1" in caps.note

    def text_only(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if "logprobs" in body:
            return httpx.Response(422, json={"detail": "Unexpected fields"})
        return httpx.Response(200, json=_chat_answer(["x"], -1))

    caps = _run(_teacher(text_only).probe())
    assert caps.mode == "text" and "rejected log-probability requests" in caps.note
    assert caps.describe().startswith("text only")


@pytest.mark.parametrize(
    "status, headers, kind, text",
    [
        (429, {"Retry-After": "3"}, RetryableTeacherError, "answered 429"),
        (503, {}, RetryableTeacherError, "answered 503"),
        (408, {}, RetryableTeacherError, "answered 408"),
        (404, {}, RequestRejected, "answered 404: no such model"),
        (401, {}, RequestRejected, "$MY_KEY"),
    ],
)
def test_failures_are_classified(status: int, headers: dict[str, str], kind: type, text: str) -> None:
    teacher = _teacher(
        lambda r: httpx.Response(status, headers=headers, json={"error": {"message": "no such model"}}),
        api_key_env="MY_KEY",
    )
    with pytest.raises(kind, match=text.replace("$", r"\$")) as err:
        _run(teacher.request_json("POST", "chat/completions", {}))
    assert f"{URL}/chat/completions" in str(err.value)
    if status == 429:
        assert err.value.retry_after == 3.0


def test_timeouts_and_connection_errors_are_retryable() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RetryableTeacherError, match="no answer within"):
        _run(_teacher(hang).request_json("GET", "models"))


def test_api_key_from_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret")
    auth: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"data": [{"id": "served-model"}]})

    teacher = HTTPTeacher(URL, api_key_env="MY_KEY", transport=httpx.MockTransport(handler))
    assert _run(teacher.resolve_model()) == "served-model" and teacher.name == "served-model"
    assert auth == ["Bearer sk-secret"] and "sk-secret" not in repr(vars(teacher))


def test_base_url_and_load_teacher(tmp_path: Path) -> None:
    assert normalize_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalize_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalize_base_url("https://api.x.com/openai/v1") == "https://api.x.com/openai/v1"
    assert isinstance(load_teacher("http://127.0.0.1:1/v1"), HTTPTeacher)
    with pytest.raises(ConfigError, match="neither an http"):
        load_teacher(str(tmp_path / "nope"))


def test_malformed_answer_is_a_teacher_error() -> None:
    with pytest.raises(TeacherError, match="without a 'choices' list"):
        _run(_generate_raw(_teacher(lambda r: httpx.Response(200, json={"oops": 1}))))
