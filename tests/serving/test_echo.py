"""`echo` log-probabilities on prompts and the tokenizer routes: what loglikelihood scorers such as
lm-evaluation-harness's `local-completions` need, checked against an independent forward pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import openai
import pytest
import torch

from distillab.models.generate import Engine

if TYPE_CHECKING:
    from conftest import Server

MODEL = "tiny"


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)


def reference_logprobs(engine: Engine, ids: list[int]) -> list[float]:
    """log p(ids[t] | ids[:t]) for t >= 1, straight from the model's logits."""
    with torch.no_grad():
        logits = engine.model(torch.tensor([ids])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return [float(logprobs[t - 1, ids[t]]) for t in range(1, len(ids))]


def test_echo_only_scores_the_prompt(client: openai.OpenAI, engine: Engine) -> None:
    prompt = "Ann has 3 pens. She gets 4 more."
    ids = engine.encode_text(prompt)
    reply = client.completions.create(model=MODEL, prompt=prompt, max_tokens=0, echo=True, logprobs=1)
    [choice] = reply.choices
    lp = choice.logprobs
    assert choice.text == prompt and lp is not None
    assert lp.token_logprobs is not None and lp.token_logprobs[0] is None
    assert lp.token_logprobs[1:] == pytest.approx(reference_logprobs(engine, ids), abs=1e-4)
    assert lp.top_logprobs is not None and lp.top_logprobs[0] is None
    assert all(len(top) == 1 for top in lp.top_logprobs[1:])
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (
        len(ids),
        0,
    )


def test_echo_of_token_id_prompts_as_lm_eval_sends_them(client: openai.OpenAI, engine: Engine) -> None:
    """lm-eval's request: a batch of token-id prompts, max_tokens 1, logprobs 1, temperature 0."""
    batch = [engine.encode_text("import json"), engine.encode_text("Ann has 3 pens and 2 cups")]
    reply = client.completions.create(
        model=MODEL, prompt=batch, max_tokens=1, logprobs=1, echo=True, temperature=0, seed=1234
    )
    assert [c.index for c in reply.choices] == [0, 1]
    for ids, choice in zip(batch, reply.choices):
        lp = choice.logprobs
        assert lp is not None and lp.token_logprobs is not None and lp.top_logprobs is not None
        assert len(lp.token_logprobs) == len(ids) + 1  # the prompt, then the one generated token
        assert lp.token_logprobs[1 : len(ids)] == pytest.approx(reference_logprobs(engine, ids), abs=1e-4)
        # Greedy: the generated token is the top alternative, as lm-eval's is_greedy check reads it.
        assert lp.token_logprobs[-1] == pytest.approx(max(lp.top_logprobs[-1].values()))
        assert choice.text.startswith(engine.tokenizer.decode(ids))
        assert lp.text_offset is not None and lp.text_offset == sorted(lp.text_offset)


def test_echo_errors(server: Server) -> None:
    url = server.base_url + "/v1/completions"
    no_echo = httpx.post(url, json={"model": MODEL, "prompt": "x", "max_tokens": 0})
    assert no_echo.status_code == 400 and no_echo.json()["error"]["param"] == "max_tokens"
    streamed = httpx.post(url, json={"model": MODEL, "prompt": "x", "echo": True, "stream": True})
    assert streamed.status_code == 400 and "echo with stream" in streamed.json()["error"]["message"]


def test_tokenizer_routes_round_trip(server: Server, engine: Engine) -> None:
    info = httpx.get(server.base_url + "/tokenizer_info").json()
    assert info["eos_token"] == engine.tokenizer.eos_token and info["chat_template"]
    text = "Ann has 3 pens."
    raw = httpx.post(server.base_url + "/tokenize", json={"prompt": text, "add_special_tokens": False}).json()
    assert raw["tokens"] == engine.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert raw["count"] == len(raw["tokens"])
    chat = httpx.post(server.base_url + "/tokenize", json={"messages": [{"role": "user", "content": text}]})
    assert chat.json()["tokens"] == engine.encode_chat([{"role": "user", "content": text}])
    back = httpx.post(server.base_url + "/detokenize", json={"tokens": raw["tokens"]}).json()
    assert back["prompt"] == engine.tokenizer.decode(raw["tokens"])
    both = httpx.post(server.base_url + "/tokenize", json={"prompt": text, "messages": []})
    assert both.status_code == 400
    bad = httpx.post(server.base_url + "/detokenize", json={"tokens": [10**9]})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tokens"
