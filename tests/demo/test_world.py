"""The contest's worlds without models: the config each world makes, the real world's task split, and how
the campaign's accounts look on the wire in each world (a recording gateway on loopback)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from distillab.demo.config import WORLD_SIZES, ContestConfig
from distillab.demo.traffic import CampaignStyle, run_round
from distillab.demo.world import Task
from distillab.errors import ConfigError
from distillab.serving.background import run_in_background


def test_each_world_has_its_defaults_and_given_settings_win(tmp_path: Path) -> None:
    gguf = tmp_path / "teacher.gguf"
    gguf.write_bytes(b"GGUF")
    real = ContestConfig.for_world("smollm2", real_model=gguf, steps=7)
    assert real.world == "smollm2" and real.task == "stdlib" and real.teacher_file == gguf
    assert real.steps == 7 and real.campaign_queries == WORLD_SIZES["smollm2"]["campaign_queries"]
    assert real.metric == "share of the teacher's skill"
    tiny = ContestConfig.for_world("tiny")
    assert tiny == ContestConfig() and tiny.task == "text"


def test_world_problems_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="world: 'moon'"):
        ContestConfig.for_world("moon")
    with pytest.raises(ConfigError, match=r"real_model: .*missing\.gguf is not a file"):
        ContestConfig.for_world("smollm2", real_model=tmp_path / "missing.gguf")
    with pytest.raises(ConfigError, match="stepz: not a contest setting"):
        ContestConfig.for_world("tiny", stepz=3)


def _prompt_file(path: Path) -> Path:
    rows = [
        {
            "id": f"stdlib:m{m}.f{i}",
            "messages": [{"role": "user", "content": f"What does m{m}.f{i} do?"}],
            "reference": f"Doc of m{m}.f{i}.",
            "source": {"kind": "stdlib", "module": f"m{m:02d}", "object": f"m{m}.f{i}"},
        }
        for m in range(10)
        for i in range(6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_prompt_file_splits_by_module_deterministically(tmp_path: Path) -> None:
    task = Task("stdlib", _prompt_file(tmp_path / "prompts.jsonl"))
    train, test = task.rows("train", 100, seed=0), task.rows("test", 100, seed=0)
    module = {r["id"]: r["id"].split(".")[0] for r in train + test}
    assert len(test) == 12 and len(train) == 48  # modules 1 and 6 of 10 are held out
    assert not {module[r["id"]] for r in train} & {module[r["id"]] for r in test}
    assert set(train[0]) == {"id", "messages", "reference"}
    assert task.rows("train", 5, seed=3) == task.rows("train", 5, seed=3)
    assert task.rows("train", 5, seed=3) != task.rows("train", 5, seed=4)


def _recording_gateway(seen: dict[str, list[Any]]) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/admin/keys", status_code=201)
    async def keys(request: Request) -> dict[str, str]:
        body = await request.json()
        seen["keys"].append(body)
        return {"key": f"key-{body['account']}"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        seen["requests"].append(
            {
                "key": request.headers["authorization"],
                "agent": request.headers.get("user-agent"),
                "ip": request.headers.get("x-forwarded-for"),
                "max_tokens": body["max_tokens"],
            }
        )
        return {
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }

    return app


def _campaign(style: CampaignStyle) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"keys": [], "requests": []}
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(12)]
    with run_in_background(_recording_gateway(seen)) as base:
        result = asyncio.run(
            run_round(
                base, "admin", "m", prompts, [], accounts=6, rpm=6000, seed=0, style=style, max_tokens=9
            )
        )
    assert len(result.answers) == 12 and all(a.status == 200 for a in result.answers)
    return seen


def test_the_tiny_campaign_shares_cards_and_one_agent_from_loopback() -> None:
    seen = _campaign(CampaignStyle())
    assert len({k["payment_id"] for k in seen["keys"]}) == 2  # six accounts, a card per five
    assert len({r["agent"] for r in seen["requests"]}) == 1
    assert all(r["ip"] is None and r["max_tokens"] == 9 for r in seen["requests"])


def test_the_hidden_campaign_shares_no_card_network_or_agent() -> None:
    seen = _campaign(CampaignStyle(shared_payments=False, own_networks=True, pause_s=0.01))
    assert len({k["payment_id"] for k in seen["keys"]}) == 6 and all(k["org"] is None for k in seen["keys"])
    by_key: dict[str, set[tuple[str, str]]] = {}
    for r in seen["requests"]:
        by_key.setdefault(r["key"], set()).add((r["ip"], r["agent"]))
    assert len(by_key) == 6 and all(len(v) == 1 for v in by_key.values())  # each account keeps its own
    ips = [next(iter(v))[0] for v in by_key.values()]
    assert len({ipaddress.ip_network(f"{ip}/16", strict=False) for ip in ips}) == 6


def test_the_command_raises_config_errors_naming_the_world(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from distillab.cli.main import app

    result = CliRunner().invoke(app, ["demo", "--world", "moon", "--out", str(tmp_path / "demo")])
    # `distillab`'s entry point prints a DistillabError and exits 1 (tests/cli cover that part).
    assert isinstance(result.exception, ConfigError) and "world: 'moon'" in str(result.exception)
    missing = tmp_path / "none.gguf"
    result = CliRunner().invoke(app, ["demo", "--world", "smollm2", "--real-model", str(missing)])
    assert isinstance(result.exception, ConfigError) and "none.gguf is not a file" in str(result.exception)
