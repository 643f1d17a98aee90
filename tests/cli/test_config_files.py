"""Commands built from config dataclasses: flags from the fields, `--config FILE` (YAML, TOML, JSON) with
flags winning over the file, bad values in the file reported against it (exit 1), examples in --help."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from distillab.cli.from_config import from_config
from distillab.cli.main import app, main
from distillab.fields import documented as _f


class Ran(Exception):
    """Raised instead of running the command: carries the config the command was given."""


def _capture(config: Any) -> None:
    raise Ran(config)


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "2 + 3 = ?"}) + "\n")
    return path


def _write(path: Path, settings: dict[str, Any]) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(settings))
    elif path.suffix == ".yaml":
        path.write_text(yaml.safe_dump(settings))
    else:
        lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]  # TOML for these values
        path.write_text("\n".join(lines) + "\n")
    return path


def _run(*args: str) -> tuple[Any, Any]:
    """The config the command was given (None if it never ran), and the runner's result."""
    result = CliRunner().invoke(app, list(args))
    return (result.exception.args[0] if isinstance(result.exception, Ran) else None), result


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_generate_reads_a_config_file_and_a_flag_wins(
    suffix: str, prompts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("distillab.data.harvest.run_harvest", _capture)
    settings = {
        "teacher": "http://127.0.0.1:9/v1",
        "prompts": str(prompts),
        "out": str(tmp_path / "harvest"),
        "n": 3,
        "temperature": 0.5,
        "stop": ["###"],
        "max-tokens": 32,
        "dry_run": True,
    }
    file = _write(tmp_path / f"generate{suffix}", settings)
    config, result = _run("generate", "--config", str(file), "--temperature", "0.7")
    assert config is not None, result.output
    assert (config.teacher, config.prompts, config.out) == (
        "http://127.0.0.1:9/v1",
        prompts,
        tmp_path / "harvest",
    )
    assert (config.n, config.stop, config.max_tokens, config.dry_run) == (3, ("###",), 32, True)
    assert config.temperature == 0.7  # the flag, over the file's 0.5
    assert config.top_p == 1.0  # neither: the field's default


def test_detect_reads_a_config_file_and_a_flag_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("distillab.detect.run.run_detect", _capture)
    settings = {"log": "requests.jsonl", "out": str(tmp_path / "d"), "fdr": 0.1, "target-fpr": 0.01}
    file = _write(tmp_path / "detect.yaml", {**settings, "progress": False})
    config, result = _run("detect", "--config", str(file), "--fdr", "0.2")
    assert config is not None, result.output
    assert (config.log, config.fdr, config.target_fpr, config.progress) == (
        "requests.jsonl",
        0.2,
        0.01,
        False,
    )
    config, _ = _run("detect", "--config", str(file), "--progress")
    assert config.progress is True


def _exit_code(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["distillab", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return int(exit_.value.code or 0)


def _flat(text: str) -> str:
    """Without whitespace: rich wraps long error lines at the terminal width."""
    return "".join(text.split())


def test_a_bad_value_in_the_file_names_the_field_and_exits_1(
    prompts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"teacher": "http://127.0.0.1:9/v1", "prompts": str(prompts), "out": str(tmp_path / "h")}
    out_of_range = _write(tmp_path / "range.yaml", {**base, "n": 0, "top_p": 2})
    assert _exit_code(monkeypatch, "generate", "--config", str(out_of_range)) == 1
    err = _flat(capsys.readouterr().err)
    assert _flat("--n must be at least 1 (got 0)") in err and _flat("--top-p must be in (0, 1]") in err

    wrong = _write(tmp_path / "wrong.toml", {**base, "n": "many", "temprature": 0.5})
    assert _exit_code(monkeypatch, "generate", "--config", str(wrong)) == 1
    err = _flat(capsys.readouterr().err)
    assert _flat(f"{wrong}: n:") in err  # the file and the field, every problem at once
    assert _flat(f"{wrong}: unknown option 'temprature'") in err

    assert _exit_code(monkeypatch, "generate", "--config", str(tmp_path / "missing.yaml")) == 1
    assert _flat("no such file") in _flat(capsys.readouterr().err)


def test_required_options_may_come_from_the_file_and_are_still_required(
    prompts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("distillab.data.harvest.run_harvest", _capture)
    file = _write(tmp_path / "g.json", {"teacher": "http://127.0.0.1:9/v1", "prompts": str(prompts)})
    config, result = _run("generate", "--config", str(file), "--out", str(tmp_path / "h"))
    assert config is not None and config.out == tmp_path / "h", result.output
    config, result = _run("generate", "--config", str(file))
    assert config is None and result.exit_code == 2 and "Missing option '--out'" in result.output


@pytest.mark.parametrize(
    "command",
    [
        "train",
        "generate",
        "eval",
        "detect",
        "detect-follow",
        "simulate",
        "serve",
        "prove attribution",
        "prove membership",
        "prove radioactivity",
        "watermark detect",
    ],
)
def test_help_keeps_its_examples_and_offers_config(command: str) -> None:
    result = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"distillab {command} --" in result.output
    assert "--config" in result.output


@dataclass
class Toy:
    name: str = _f("", "Required.")
    sizes: tuple[str, ...] = _f((), "Repeatable.")
    strict: bool = _f(False, "A switch.")
    colour: bool | None = _f(None, "On, off or unset.")
    limit: int | None = _f(None, "Optional.")
    rate: float = _f(1.0, "Under another flag.")
    hidden: int = _f(7, "Not offered.")


def test_fields_become_options_and_other_parameters_stay() -> None:
    toy = typer.Typer(rich_markup_mode=None)
    seen: list[tuple[Toy, int]] = []

    @toy.command()
    @from_config(Toy, required=("name",), flags={"rate": "--speed"}, skip=("hidden",))
    def run(config: Toy, extra: int = typer.Option(0, "--extra", help="Not a field.")) -> None:
        seen.append((config, extra))

    help_text = CliRunner().invoke(toy, ["--help"], env={"COLUMNS": "200"}).output
    for flag in ("--name", "--sizes", "--strict ", "--colour / --no-colour", "--limit", "--speed", "--extra"):
        assert flag in help_text, flag
    assert "--hidden" not in help_text and "--rate" not in help_text
    args = [
        "--name",
        "a",
        "--sizes",
        "s",
        "--sizes",
        "m",
        "--strict",
        "--no-colour",
        "--speed",
        "2",
        "--extra",
        "5",
    ]
    result = CliRunner().invoke(toy, args)
    assert result.exit_code == 0, result.output
    assert seen == [(Toy(name="a", sizes=("s", "m"), strict=True, colour=False, rate=2.0), 5)]
