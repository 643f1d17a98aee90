"""`distillab distill`: stages, resume after a kill between stages, config files and flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from distillab.cli.main import app
from distillab.data.records import read_records
from distillab.distill import DistillConfig, resolve, run_distill
from distillab.errors import ConfigError


@pytest.fixture()
def setup(tiny_model_dir: Path, tmp_path: Path) -> dict[str, Any]:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "messages": [{"role": "user", "content": f"Ann has {i} pens."}]})
            + "\n"
            for i in range(8)
        )
    )
    task = tmp_path / "task.jsonl"
    task.write_text(
        "".join(json.dumps({"prompt": f"{i} + 1 =", "answer": str(i + 1)}) + "\n" for i in range(3))
    )
    return {
        "teacher": str(tiny_model_dir),
        "student": tiny_model_dir,
        "prompts": prompts,
        "out": tmp_path / "run",
        "loss": "fkl",
        "task": str(task),
        "generate": {"max_tokens": 6, "concurrency": 4},
        "train": {"max_steps": 3, "batch_size": 4, "eval_fraction": 0.0},
        "eval": {"n": 3, "max_tokens": 4, "speed_requests": 0, "checker": "numeric"},
    }


class Killed(Exception):
    pass


def test_killed_between_stages_resumes_without_repeating(setup: dict[str, Any]) -> None:
    config = DistillConfig(**setup)

    def kill_after_train(stage: str) -> None:
        if stage == "train":
            raise Killed

    with pytest.raises(Killed):
        run_distill(config, progress=False, on_stage_done=kill_after_train)
    out = config.out
    created = read_records(out / "data", columns=["created"]).column("created").to_pylist()
    weights = (out / "student" / "model.safetensors").stat().st_mtime_ns
    assert not (out / "eval").exists()
    result = run_distill(config, progress=False)
    assert result.ran == ["eval"] and result.skipped == ["generate", "train"]
    assert read_records(out / "data", columns=["created"]).column("created").to_pylist() == created
    assert (out / "student" / "model.safetensors").stat().st_mtime_ns == weights
    assert result.report is not None and (out / "eval" / "report.html").is_file()
    assert result.report.harvest is not None and result.report.harvest.queries == 8
    assert result.report.training is not None and result.report.training.steps == 3
    again = run_distill(config, progress=False)
    assert again.ran == [] and again.report == result.report  # read back from report.json
    stages = json.loads((out / "stages.json").read_text())
    assert all(stages[stage]["seconds"] >= 0 for stage in ("generate", "train", "eval"))


def test_changed_training_settings_rerun_train_and_eval_only(setup: dict[str, Any]) -> None:
    run_distill(DistillConfig(**setup), until="train", progress=False)
    setup["train"] = {**setup["train"], "max_steps": 4}
    result = run_distill(DistillConfig(**setup), progress=False)
    assert result.skipped == ["generate"] and result.ran == ["train", "eval"]
    record = json.loads((setup["out"] / "student" / "distillab_train.json").read_text())
    assert record["steps"] == 4


def test_config_file_then_flags(setup: dict[str, Any], tmp_path: Path) -> None:
    file = tmp_path / "distill.toml"
    file.write_text(
        f'teacher = "{setup["teacher"]}"\nstudent = "{setup["student"]}"\nprompts = "{setup["prompts"]}"\n'
        f'out = "{setup["out"]}"\nloss = "sft"\n[train]\nmax-steps = 7\nlr = 0.01\n'
    )
    config = resolve(file, {"loss": None, "train": {"max_steps": 2}})
    assert config.loss == "sft" and config.train == {"max_steps": 2, "lr": 0.01}
    yaml_file = tmp_path / "distill.yaml"
    yaml_file.write_text("teacher: t\nstudnt: s\n")
    with pytest.raises(ConfigError, match="distill.yaml: unknown option 'studnt'"):
        resolve(yaml_file, {})


def test_every_stage_problem_reported_before_anything_runs(setup: dict[str, Any]) -> None:
    setup["train"] = {"lr": -1, "no_such_option": 1}
    setup["eval"] = {"n": 0}
    with pytest.raises(ConfigError) as info:
        DistillConfig(**setup)
    assert "train.no_such_option: not an option of `distillab train`" in str(info.value)
    setup["train"] = {"lr": -1}
    with pytest.raises(ConfigError) as info:
        DistillConfig(**setup)
    assert "train: --lr must be positive" in str(info.value) and "eval: n: must be >= 1" in str(info.value)
    assert not setup["out"].exists()


def test_cli_with_a_config_file(setup: dict[str, Any], tmp_path: Path) -> None:
    file = tmp_path / "distill.yaml"
    file.write_text(
        f"teacher: {setup['teacher']}\nstudent: {setup['student']}\nprompts: {setup['prompts']}\n"
        f"out: {setup['out']}\ntask: {setup['task']}\ngenerate: {{max_tokens: 6}}\n"
        "train: {batch_size: 4, eval_fraction: 0.0}\n"
        "eval: {speed_requests: 0, max_tokens: 4, checker: numeric}\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "distill",
            "--config",
            str(file),
            "--max-steps",
            "2",
            "--eval-n",
            "2",
            "--until",
            "train",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "stages run: generate, train" in result.output
    resolved = (setup["out"] / "config.yaml").read_text()
    assert "max_steps: 2" in resolved and "batch_size: 4" in resolved
