"""The real app over HTTP, driven by the official openai client (sync and async) and raw httpx."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import httpx
import openai
import pytest
import torch

from distillab.models.generate import Engine
from distillab.models.running import Admitted

if TYPE_CHECKING:
    from conftest import Server

MODEL = "tiny"  # the `server` fixture's model name

CHAT = [{"role": "user", "content": "Ann has 3 pens. She gets 4 more. How many?"}]


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)


def _ids(tokens: list[str]) -> list[int]:
    assert all(t.startswith("token_id:") for t in tokens)
    return [int(t.removeprefix("token_id:")) for t in tokens]


def test_models_and_health(client: openai.OpenAI, server: Server) -> None:
    assert [m.id for m in client.models.list().data] == [MODEL]
    assert httpx.get(server.base_url + "/health").json() == {"status": "ok"}


def test_chat_logprobs_match_an_independent_forward_pass(client: openai.OpenAI, engine: Engine) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=CHAT,
        max_tokens=12,
        temperature=0.7,
        seed=3,
        logprobs=True,
        top_logprobs=20,
        extra_body={"return_tokens_as_token_ids": True},
    )
    content = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    ids = _ids([c.token for c in content])
    assert reply.usage is not None and reply.usage.completion_tokens == len(ids)

    tokenizer = engine.tokenizer
    prompt = tokenizer(
        tokenizer.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True),
        add_special_tokens=False,
    )["input_ids"]
    assert reply.usage.prompt_tokens == len(prompt)
    with torch.no_grad():  # the model's own forward pass, not the engine's code path
        logits = engine.model(torch.tensor([prompt + ids])).logits[0, len(prompt) - 1 : -1]
    expected = torch.log_softmax(logits.float(), dim=-1)  # raw: before temperature 0.7
    for pos, entry in enumerate(content):
        assert entry.logprob == pytest.approx(float(expected[pos, ids[pos]]), abs=1e-4)
        tops = [t.logprob for t in entry.top_logprobs]
        assert len(tops) == 20 and tops == sorted(tops, reverse=True) and all(lp <= 0 for lp in tops)
        assert tops == pytest.approx(expected[pos].topk(20).values.tolist(), abs=1e-4)
        assert entry.logprob <= tops[0] + 1e-6
        assert entry.bytes == engine.vocab.token_bytes(ids[pos])
    assert tokenizer.decode(ids, skip_special_tokens=True).startswith(reply.choices[0].message.content or "")


def test_token_strings_and_bytes_without_ids_mode(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=CHAT, max_tokens=8, seed=5, logprobs=True, top_logprobs=2
    )
    content = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert not any(c.token.startswith("token_id:") for c in content)
    joined = b"".join(bytes(c.bytes or []) for c in content)
    assert joined.decode("utf-8", errors="replace").startswith(reply.choices[0].message.content or "")


def test_n_samples_and_usage(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=6, n=3, seed=11)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert len({c.message.content for c in reply.choices}) > 1
    assert reply.usage is not None and reply.usage.completion_tokens == 18  # no EOS in 6 tokens for this seed
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 18


def test_max_tokens_gives_length(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=CHAT, max_completion_tokens=4, seed=1)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 4


def test_stop_string_truncates_text(client: openai.OpenAI) -> None:
    free = client.completions.create(model=MODEL, prompt="import json", max_tokens=24, seed=9).choices[0]
    text = free.text
    assert len(text) > 12
    stop = text[6:9]
    stopped = client.completions.create(
        model=MODEL, prompt="import json", max_tokens=24, seed=9, stop=["never-appears", stop]
    ).choices[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == text[: text.index(stop)]


def test_seed_reproducible_among_concurrent_neighbours(server: Server) -> None:
    steps_before = rows_before = 0

    async def run() -> tuple[str, list[str]]:
        nonlocal steps_before, rows_before
        aclient = openai.AsyncOpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)
        alone = await aclient.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=12, seed=1234)
        steps_before, rows_before = server.batch.steps, server.batch.row_steps
        crowd = await asyncio.gather(
            *[
                aclient.chat.completions.create(
                    model=MODEL,
                    messages=CHAT if i % 3 == 0 else [{"role": "user", "content": "x" * i}],
                    max_tokens=12,
                    seed=1234 if i % 3 == 0 else None,
                )
                for i in range(9)
            ]
        )
        await aclient.close()
        return alone.choices[0].message.content or "", [
            crowd[i].choices[0].message.content or "" for i in (0, 3, 6)
        ]

    alone, crowded = asyncio.run(run())
    assert crowded == [alone] * 3
    assert server.batch.row_steps - rows_before > server.batch.steps - steps_before  # batched: > 1 row a step


def test_streaming_chat_matches_non_streaming(client: openai.OpenAI) -> None:
    args = {"model": MODEL, "messages": CHAT, "max_tokens": 10, "seed": 77, "n": 2}
    whole = client.chat.completions.create(**args)  # type: ignore[call-overload]
    texts = ["", ""]
    finish = [None, None]
    usage = None
    roles = 0
    for chunk in client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **args):  # type: ignore[call-overload]
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            roles += choice.delta.role == "assistant"
            texts[choice.index] += choice.delta.content or ""
            finish[choice.index] = choice.finish_reason or finish[choice.index]
    assert texts == [c.message.content for c in whole.choices]
    assert finish == [c.finish_reason for c in whole.choices] and roles == 2
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens  # type: ignore[union-attr]


def test_streaming_with_logprobs_and_stop(client: openai.OpenAI) -> None:
    text = (
        client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=20, seed=21)
        .choices[0]
        .message.content
    )
    assert text and len(text) > 8
    stop = text[4:7]
    streamed, entries = "", 0
    for chunk in client.chat.completions.create(
        model=MODEL,
        messages=CHAT,
        max_tokens=20,
        seed=21,
        stop=stop,
        stream=True,
        logprobs=True,
        top_logprobs=3,
    ):
        for choice in chunk.choices:
            streamed += choice.delta.content or ""
            if choice.logprobs and choice.logprobs.content:
                entries += len(choice.logprobs.content)
                assert all(len(c.top_logprobs) == 3 for c in choice.logprobs.content)
    assert streamed == text[: text.index(stop)]
    assert entries > 0


def test_legacy_completions_logprobs(client: openai.OpenAI, engine: Engine) -> None:
    reply = client.completions.create(
        model=MODEL, prompt=["Ann has", "import json"], max_tokens=5, n=2, logprobs=5, seed=2
    )
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    for choice in reply.choices:
        lp = choice.logprobs
        assert lp is not None and len(lp.tokens or []) == len(lp.token_logprobs or []) == 5
        assert all(len(d) <= 5 for d in lp.top_logprobs or [])  # pieces can collide in a dict
        assert lp.text_offset == [sum(len(t) for t in (lp.tokens or [])[:i]) for i in range(5)]
    ids_reply = client.completions.create(
        model=MODEL,
        prompt=engine.encode_text("Ann has"),
        max_tokens=5,
        logprobs=1,
        seed=2,
        extra_body={"return_tokens_as_token_ids": True},
    )
    tokens = ids_reply.choices[0].logprobs.tokens  # type: ignore[union-attr]
    assert [engine.vocab.piece(i) for i in _ids(tokens or [])] == reply.choices[0].logprobs.tokens  # type: ignore[union-attr]


def test_streaming_completion(client: openai.OpenAI) -> None:
    whole = client.completions.create(model=MODEL, prompt="import json", max_tokens=8, seed=4)
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(
            model=MODEL, prompt="import json", max_tokens=8, seed=4, stream=True
        )
        if c.choices
    )
    assert streamed == whole.choices[0].text


def test_errors_are_openai_shaped(client: openai.OpenAI, server: Server) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=MODEL, messages=CHAT, logprobs=True, top_logprobs=21)
    assert bad.value.status_code == 400 and "top_logprobs" in bad.value.message
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=CHAT)

    url = server.base_url + "/v1/chat/completions"
    response = httpx.post(url, json={"model": MODEL, "messages": CHAT, "logprobs": True, "top_logprobs": 21})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "top_logprobs"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    response = httpx.post(url, json={"model": "nope", "messages": CHAT})
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    response = httpx.post(url, json={"model": MODEL, "messages": CHAT, "max_tokens": 10_000})
    assert response.status_code == 400 and response.json()["error"]["param"] == "max_tokens"
    response = httpx.post(url, json={"model": MODEL})
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages"
    response = httpx.post(url, json={"model": MODEL, "messages": CHAT, "frequency_penalty": 0.5})
    assert response.status_code == 400 and response.json()["error"]["param"] == "frequency_penalty"


def test_leaving_a_stream_stops_its_generation(
    client: openai.OpenAI, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    finish_reasons: list[str] = []
    generated = threading.Event()
    original = server.batch.step

    def spy() -> list[Admitted]:
        done = original()
        for admitted in done:
            finish_reasons.extend(s.finish_reason for s in admitted.result().samples)
            generated.set()
        return done

    monkeypatch.setattr(server.batch, "step", spy)
    stream = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=200, seed=1, stream=True)
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    assert generated.wait(30), "the generation never returned"
    assert finish_reasons == ["abort"]
