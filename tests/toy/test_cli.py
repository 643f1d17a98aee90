"""`distillab toy ...` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from distillab.cli.main import app
from distillab.errors import ConfigError

runner = CliRunner()


def test_help_has_examples() -> None:
    for command in ("teacher", "student", "prompts"):
        result = runner.invoke(app, ["toy", command, "--help"])
        assert (
            result.exit_code == 0
            and "Examples" in result.output
            and f"distillab toy {command}" in result.output
        )


def test_prompts_command(tmp_path: Path) -> None:
    out = tmp_path / "prompts.jsonl"
    result = runner.invoke(
        app, ["toy", "prompts", "--task", "arith", "--split", "test", "--n", "7", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7 and rows[0]["messages"][0]["role"] == "user"


def test_teacher_then_student(tmp_path: Path) -> None:
    teacher = tmp_path / "teacher"
    args = [
        "toy",
        "teacher",
        "--task",
        "arith",
        "--size",
        "tiny",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--eval-size",
        "0",
        "--threads",
        "1",
        "--out",
        str(teacher),
    ]
    assert runner.invoke(app, args).exit_code == 0
    assert json.loads((teacher / "toy_info.json").read_text())["steps_done"] == 2
    again = runner.invoke(app, args)
    assert isinstance(again.exception, ConfigError) and "--force" in str(again.exception)
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    result = runner.invoke(
        app, ["toy", "student", "--like", str(teacher), "--out", str(tmp_path / "student")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "student" / "distillab_student.json").read_text())["ratio"] <= 0.25
    other = ["toy", "student", "--like", str(teacher), "--out", str(tmp_path / "s2"), "--tokenizer", "other"]
    assert runner.invoke(app, other).exit_code == 0
    assert json.loads((tmp_path / "s2" / "distillab_student.json").read_text())["own_tokenizer"] is True
    bad = runner.invoke(app, [*other[:-1], "mine", "--force"])
    assert isinstance(bad.exception, ConfigError)
    assert "--tokenizer: must be teacher or other" in str(bad.exception)


def test_bad_input_exits_1_with_the_field_named(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillab.cli.main",
            "toy",
            "prompts",
            "--task",
            "poetry",
            "--out",
            str(tmp_path / "p.jsonl"),
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    assert result.returncode == 1
    assert "task" in result.stderr and "poetry" in result.stderr
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "distillab.cli.main",
            "toy",
            "student",
            "--like",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    assert result.returncode == 1 and "missing does not exist" in result.stderr
