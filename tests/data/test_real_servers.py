"""Harvests against real OpenAI-compatible servers on loopback: `transformers serve` and `distillab serve`."""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.records import read_records
from distillab.errors import TeacherError
from distillab.serving.process import UVICORN_ANNOUNCE, announced_server


@pytest.fixture(scope="module")
def transformers_serve(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`transformers serve` pinned to the tiny model directory, offline, on the free loopback port it bound
    (`--port 0`; uvicorn's startup line says which)."""
    # The venv's own CLI first: CI runs `.venv/bin/python -m pytest` without the venv on PATH.
    beside = Path(sys.executable).parent / "transformers"
    exe = str(beside) if beside.exists() else shutil.which("transformers")
    if exe is None:
        pytest.skip("the `transformers` CLI is not installed (pip install 'transformers[serving]')")
    log = tmp_path_factory.mktemp("tserve") / "serve.log"
    cmd = [exe, "serve", str(tiny_model_dir), "--host", "127.0.0.1", "--port", "0", "--device", "cpu"]
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(log.parent / "hf")}
    with announced_server(cmd, announce=UVICORN_ANNOUNCE, name="transformers serve", log=log, env=env) as url:
        yield url


def _harvest(url: str, prompts: Path, out: Path, **kw: object) -> tuple[object, str]:
    buffer = io.StringIO()
    config = HarvestConfig(
        teacher=url, prompts=prompts, out=out, max_tokens=6, progress=False, retry_base_delay=0.01, **kw
    )  # type: ignore[arg-type]
    return run_harvest(config, console=Console(file=buffer, width=400)), buffer.getvalue()


@pytest.mark.slow  # a real `transformers serve` process
def test_transformers_serve_text_only(
    transformers_serve: str, tiny_model_dir: Path, write_prompts, tmp_path: Path
) -> None:
    prompts = write_prompts(3)
    # Without --model the harvest takes the first model the server lists. Releases of `transformers serve`
    # differ (some list the pinned model, some cannot list without a hub cache): check what our code
    # decides for what this server says, not the server's own wording.
    listing = httpx.get(f"{transformers_serve}/models", timeout=10)
    listed = listing.json().get("data") if listing.status_code == 200 else None
    if listed:
        result, _ = _harvest(transformers_serve, prompts, tmp_path / "nomodel")
        teachers = set(read_records(tmp_path / "nomodel")["teacher"].to_pylist())
        assert teachers == {listed[0]["id"]}
    else:
        with pytest.raises(TeacherError, match="pass the server's model id"):
            _harvest(transformers_serve, prompts, tmp_path / "nomodel")
    # It also ignores `n`, so the harvest asks again until each prompt has its samples.
    result, log = _harvest(transformers_serve, prompts, tmp_path / "out", model=str(tiny_model_dir), n=2)
    assert result.capabilities.mode == "text" and "notice: teacher gives text only" in log  # type: ignore[attr-defined]
    table = read_records(tmp_path / "out")
    assert table.num_rows == 6 and table["token_logprobs"].null_count == 6
    assert all(u["completion_tokens"] > 0 for u in table["usage"].to_pylist())


def test_distillab_serve_gives_topk_with_ids(tiny_model_dir: Path, write_prompts, tmp_path: Path) -> None:
    from distillab.models import Engine
    from distillab.serving import create_app, run_in_background

    app = create_app(Engine.load(tiny_model_dir), model_name="tiny")
    with run_in_background(app) as base:
        result, log = _harvest(
            base + "/v1", write_prompts(3), tmp_path / "out", n=2, top_logprobs=5, concurrency=4
        )
    caps = result.capabilities  # type: ignore[attr-defined]
    assert caps.mode == "topk" and caps.token_ids and caps.top_k >= 5 and "notice" not in log
    rows = read_records(tmp_path / "out").to_pylist()
    assert len(rows) == 6
    for row in rows:
        assert row["tokens"] is None and len(row["token_ids"]) == len(row["top_ids"]) == len(
            row["top_logprobs"]
        )
        assert all(len(ids) == 5 and 0 <= min(ids) for ids in row["top_ids"])
        assert all(lps == sorted(lps, reverse=True) and lps[0] <= 0 for lps in row["top_logprobs"])


def test_local_directory_teacher(tiny_model_dir: Path, write_prompts, tmp_path: Path) -> None:
    result, log = _harvest(
        str(tiny_model_dir), write_prompts(2, chat=False), tmp_path / "out", top_logprobs=3
    )
    assert result.capabilities.mode == "logits"  # type: ignore[attr-defined]
    rows = read_records(tmp_path / "out").to_pylist()
    assert len(rows) == 2 and rows[0]["teacher"] == tiny_model_dir.name
    assert all(len(ids) == 3 for ids in rows[0]["top_ids"]) and rows[0]["prompt"] == "prompt number 0"
