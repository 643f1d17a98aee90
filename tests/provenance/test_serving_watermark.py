"""The watermark on the serving path: `distillab serve` marks every sampled token, per account via the
gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import torch
from prove_world import MASTER, mark
from typer.testing import CliRunner

from distillab.cli.main import app as cli
from distillab.db.store import Store
from distillab.errors import ConfigError
from distillab.gateway.app import create_gateway
from distillab.models.generate import Engine
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.detect import detect
from distillab.provenance.keys import KEY_ENV
from distillab.provenance.watermark import Watermarker
from distillab.serving.app import create_app
from distillab.serving.background import run_in_background

CONFIG = WatermarkConfig(delta=2.0)


@pytest.fixture(scope="module")
def client(teacher: Engine) -> Iterator[openai.OpenAI]:
    app = create_app(teacher, model_name="t", watermarker=Watermarker(CONFIG, MASTER))
    with run_in_background(app) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def _sample(client: openai.OpenAI, temperature: float, seeds: range, **extra: object) -> list[list[int]]:
    rows = []
    for seed in seeds:
        reply = client.completions.create(
            model="t",
            prompt=f"Ann has {seed} pens. ",
            max_tokens=40,
            seed=seed,
            temperature=temperature,
            logprobs=1,
            extra_body={"return_tokens_as_token_ids": True},
            **extra,
        )  # type: ignore[arg-type]
        tokens = reply.choices[0].logprobs.tokens  # type: ignore[union-attr]
        rows.append([int(t.removeprefix("token_id:")) for t in tokens])
    return rows


def test_served_text_carries_the_key_and_not_another(client: openai.OpenAI, teacher: Engine) -> None:
    rows = _sample(client, 1.0, range(6))
    assert detect(rows, mark(CONFIG)).p_value < 1e-6
    assert detect(rows, mark(CONFIG, "not-the-key")).p_value > 0.01
    texts = [
        client.completions.create(model="t", prompt="Ann has 3 pens. ", max_tokens=60, seed=seed)
        .choices[0]
        .text
        for seed in range(10, 14)
    ]
    # What a user holds is text: re-tokenized, it still shows the mark.
    retokenized = [teacher.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    assert detect(retokenized, mark(CONFIG)).p_value < 1e-5


def test_greedy_decoding_is_watermarked_too(client: openai.OpenAI) -> None:
    rows = _sample(client, 0.0, range(6))
    assert detect(rows, mark(CONFIG)).p_value < 1e-6


def test_reported_logprobs_are_those_of_the_served_marked_distribution(
    client: openai.OpenAI, teacher: Engine
) -> None:
    prompt = "Ann has 5 pens. "
    reply = client.completions.create(
        model="t",
        prompt=prompt,
        max_tokens=12,
        seed=4,
        logprobs=3,
        extra_body={"return_tokens_as_token_ids": True},
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens and logprobs.token_logprobs
    ids = [int(t.removeprefix("token_id:")) for t in logprobs.tokens]
    prompt_ids = teacher.encode_text(prompt)
    with torch.no_grad():
        logits = teacher.model(torch.tensor([prompt_ids + ids])).logits[0, len(prompt_ids) - 1 : -1].float()
    full = prompt_ids + ids
    marked = torch.stack(
        [mark(CONFIG).apply(logits[i], full[: len(prompt_ids) + i]) for i in range(len(ids))]
    )
    expected = torch.log_softmax(marked, -1)
    for i, token in enumerate(ids):
        assert logprobs.token_logprobs[i] == pytest.approx(float(expected[i, token]), abs=1e-4)
        assert logprobs.token_logprobs[i] != pytest.approx(
            float(torch.log_softmax(logits[i], -1)[token]), abs=1e-3
        )


def test_echoed_prompt_logprobs_are_of_the_marked_distribution_too(
    client: openai.OpenAI, teacher: Engine
) -> None:
    """`echo` scores the prompt under the distribution served: it cannot be used to read the plain one."""
    prompt = "Ann has 5 pens. She gets 2 more."
    reply = client.completions.create(model="t", prompt=prompt, max_tokens=0, echo=True, logprobs=1)
    echoed = reply.choices[0].logprobs
    assert echoed is not None and echoed.token_logprobs is not None and echoed.token_logprobs[0] is None
    ids = teacher.encode_text(prompt)
    with torch.no_grad():
        logits = teacher.model(torch.tensor([ids])).logits[0, :-1].float()
    marked = torch.log_softmax(
        torch.stack([mark(CONFIG).apply(logits[i], ids[: i + 1]) for i in range(len(ids) - 1)]), -1
    )
    plain = torch.log_softmax(logits, -1)
    for i, token in enumerate(ids[1:]):
        assert echoed.token_logprobs[i + 1] == pytest.approx(float(marked[i, token]), abs=1e-4)
    assert any(abs(echoed.token_logprobs[i + 1] - float(plain[i, t])) > 1e-3 for i, t in enumerate(ids[1:]))


def test_each_account_gets_its_own_key_through_the_gateway(teacher: Engine, tmp_path: Path) -> None:
    store = Store(str(tmp_path / "gateway.db"))
    keys = {name: store.create_key(name)[1] for name in ("acme", "globex")}
    local = create_app(teacher, model_name="t", watermarker=Watermarker(CONFIG, MASTER, per_account=True))
    rows: dict[str, list[list[int]]] = {}
    streams: dict[str, str] = {}
    with run_in_background(create_gateway(store, local)) as url:
        for name, secret in keys.items():
            # A client naming another account in the trusted header changes nothing: it is never forwarded.
            client = openai.OpenAI(
                base_url=url + "/v1",
                api_key=secret,
                max_retries=0,
                default_headers={"x-distillab-account": "globex"},
            )
            rows[name] = _sample(client, 1.0, range(5))
            # Streamed, the answer is the one this account's key gives whole: same seed, same tokens.
            chat = {"model": "t", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "seed": 7}
            streamed = client.chat.completions.create(**chat, stream=True)  # type: ignore[call-overload]
            pieces = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
            whole = client.chat.completions.create(**chat).choices[0].message.content  # type: ignore[call-overload]
            assert pieces and pieces == whole
            streams[name] = pieces
    store.close()
    assert streams["acme"] != streams["globex"]  # one seed, two keys: two answers
    acme, globex = mark(CONFIG, "acme"), mark(CONFIG, "globex")
    assert detect(rows["acme"], acme).p_value < 1e-5 and detect(rows["acme"], globex).p_value > 0.01
    assert detect(rows["globex"], globex).p_value < 1e-5 and detect(rows["globex"], acme).p_value > 0.01
    assert detect(rows["acme"], mark(CONFIG)).p_value > 0.01  # nor under the shared default key


def test_serve_rejects_watermark_flags_it_cannot_honour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = tmp_path / "wm.key"
    key.write_bytes(MASTER)
    runner = CliRunner()
    cases = [
        (
            [
                "--upstream",
                "http://127.0.0.1:9/v1",
                "--db",
                str(tmp_path / "g.db"),
                "--watermark-key-file",
                str(key),
            ],
            "cannot watermark",
        ),
        (
            ["--model", str(tmp_path), "--watermark-key-file", str(key), "--watermark-per-account"],
            "needs the gateway",
        ),
        (["--model", str(tmp_path), "--watermark-gamma", "0.5"], "need a key"),
        (["--model", str(tmp_path), "--watermark-key-file", str(key), "--watermark-gamma", "2"], "gamma"),
    ]
    for args, message in cases:
        done = runner.invoke(cli, ["serve", *args])
        assert isinstance(done.exception, ConfigError) and message in str(done.exception), (args, done.output)
    monkeypatch.setenv(KEY_ENV, MASTER.decode())
    done = runner.invoke(
        cli, ["serve", "--upstream", "http://127.0.0.1:9/v1", "--db", str(tmp_path / "g.db")]
    )
    assert isinstance(done.exception, ConfigError) and KEY_ENV in str(done.exception)
