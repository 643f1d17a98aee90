"""`distillab serve`: flags, help, settings validation, and the app's graceful shutdown."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from distillab.cli import serve
from distillab.errors import ConfigError, ModelError
from distillab.models import Engine
from distillab.serving import ServeSettings, create_app, run_in_background


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve", help=serve.HELP)(serve.serve)

    @app.command("other")  # a second command keeps `serve` a subcommand, as in the real CLI
    def other() -> None: ...

    return app


def test_help_lists_flags_and_examples() -> None:
    result = CliRunner().invoke(_app(), ["serve", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--model",
        "--host",
        "--port",
        "--model-name",
        "--max-batch",
        "--device",
        "--dtype",
        "curl",
        "OpenAI(base_url=",
    ):
        assert flag in result.output


def test_bad_flags_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        ServeSettings(model=tmp_path, port=70000, max_batch=0, dtype="int3")
    assert len(err.value.problems) == 3
    result = CliRunner().invoke(_app(), ["serve", "--model", str(tmp_path / "missing")])
    assert isinstance(result.exception, ModelError)


def test_settings_build_an_app_and_shutdown_closes_the_batcher(tiny_model_dir: Path) -> None:
    app = create_app(ServeSettings(model=tiny_model_dir, device="cpu"))
    with run_in_background(app) as base_url:
        models = httpx.get(base_url + "/v1/models").json()
        assert models["data"][0]["id"] == tiny_model_dir.name
    assert app.state.serving.batcher.closed


def test_engine_app_default_name(engine: Engine) -> None:
    assert create_app(engine).state.serving.model_name == Path(engine.name_or_path).name
