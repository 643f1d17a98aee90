"""TrainConfig validation, the CLI's 1:1 mapping onto it, and `distillab train` exit codes."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from pathlib import Path

import pytest
from train_world import World

from distillab.cli import train as train_cli
from distillab.cli.from_config import CONFIG_PARAM
from distillab.cli.main import main
from distillab.errors import ConfigError
from distillab.train.config import LOSS_NAMES, TrainConfig
from distillab.train.losses import LOSSES
from distillab.train.model_card import command


def test_loss_names_match_the_registry() -> None:
    assert LOSS_NAMES == tuple(LOSSES)


def test_cli_flags_map_one_to_one_onto_config_fields() -> None:
    flags = list(inspect.signature(train_cli.train).parameters)
    assert flags == [CONFIG_PARAM, *(f.name for f in dataclasses.fields(TrainConfig))]


def test_all_problems_reported_together(world: World, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        TrainConfig(
            student=world.student,
            data=world.harvest,
            out=tmp_path / "o",
            loss="kl",
            kd_weight=1.5,
            temperature=0,
            batch_size=0,
            on_policy=0.5,
            eval_fraction=0.9,
        )
    problems = err.value.problems
    assert len(problems) == 6
    for flag in ("--loss", "--kd-weight", "--temperature", "--batch-size", "--on-policy", "--eval-fraction"):
        assert any(p.startswith(flag) for p in problems), flag


def test_a_model_is_a_directory_with_a_config_or_a_gguf_file(world: World, tmp_path: Path) -> None:
    gguf = tmp_path / "student.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")  # read by models.load (tests/models); here only the flags are checked
    TrainConfig(student=gguf, teacher=gguf, loss="fkl", data=world.harvest, out=tmp_path / "o")
    with pytest.raises(ConfigError) as err:
        TrainConfig(
            student=tmp_path, teacher=tmp_path / "t.gguf", loss="fkl", data=world.harvest, out=tmp_path / "o"
        )
    assert [p.split(" ")[0] for p in err.value.problems] == ["--student", "--teacher"]
    assert "neither a Hugging Face model directory nor a GGUF file" in err.value.problems[0]


def test_out_with_a_run_needs_resume(world: World, tmp_path: Path) -> None:
    (tmp_path / "o" / "checkpoints").mkdir(parents=True)
    with pytest.raises(ConfigError, match="pass --resume"):
        TrainConfig(student=world.student, data=world.harvest, out=tmp_path / "o")
    with pytest.raises(ConfigError, match="nothing to resume"):
        TrainConfig(student=world.student, data=world.harvest, out=tmp_path / "new", resume=True)


def test_reproduce_command_lists_changed_flags(world: World, tmp_path: Path) -> None:
    config = TrainConfig(
        student=world.student,
        data=world.harvest,
        out=tmp_path / "o",
        loss="gjsd",
        beta=0.2,
        bf16=False,
        progress=False,
    )
    line = command(config.to_dict())
    assert line.startswith(f"distillab train --student {world.student} --data {world.harvest}")
    assert "--loss gjsd --beta 0.2" in line and "--no-bf16" in line and "progress" not in line


def _flat(text: str) -> str:
    """Without whitespace: rich wraps long error lines at the terminal width."""
    return "".join(text.split())


def _cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["distillab", "train", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return int(exit_.value.code or 0)


def test_cli_bad_input_exits_1(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--student", str(world.student), "--out", str(tmp_path / "o"), "--no-progress"]
    assert _cli(monkeypatch, *base, "--data", str(world.text_harvest), "--loss", "fkl") == 1
    assert _flat("losses that work: sft") in _flat(capsys.readouterr().err)
    assert _cli(monkeypatch, *base, "--data", str(tmp_path / "missing")) == 1
    assert _flat(f"{tmp_path / 'missing'}: no such directory") in _flat(capsys.readouterr().err)
    (tmp_path / "empty").mkdir()
    assert _cli(monkeypatch, *base, "--data", str(tmp_path / "empty")) == 1
    assert _flat(f"{tmp_path / 'empty' / 'manifest.json'}: not found") in _flat(capsys.readouterr().err)
    (tmp_path / "empty" / "manifest.json").write_text("{}")
    assert _cli(monkeypatch, *base, "--data", str(tmp_path / "empty")) == 1
    assert _flat(f"{tmp_path / 'empty' / 'data'}: no *.parquet record files") in _flat(
        capsys.readouterr().err
    )


def test_cli_trains(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli(
        monkeypatch,
        "--student",
        str(world.student),
        "--data",
        str(world.harvest),
        "--out",
        str(tmp_path / "o"),
        "--loss",
        "skl",
        "--alpha",
        "0.2",
        "--max-steps",
        "3",
        "--no-progress",
    )
    assert code == 0 and "trained 3 steps" in capsys.readouterr().out
    record = json.loads((tmp_path / "o" / "distillab_train.json").read_text())
    assert record["loss"]["params"] == {"alpha": 0.2}
