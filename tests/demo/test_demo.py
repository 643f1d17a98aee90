"""`distillab demo` at a reduced size: the whole path runs and the student ends closer to the teacher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distillab.demo import DemoConfig, run_demo
from distillab.toy.config import TeacherConfig

SUMMARY_KEYS = [
    "teacher_queries",
    "answers_with_a_final_answer",
    "token_positions",
    "bytes_per_token",
    "teacher_accuracy",
    "student_accuracy",
    "untrained_student_accuracy",
    "student_token_agreement",
    "untrained_student_token_agreement",
    "student_kl",
    "untrained_student_kl",
    "seconds",
    "stage_seconds",
    "report",
]
"""OUT/summary.json's keys, in order, as the demo has always written them."""


@pytest.fixture()
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLAB_CACHE", str(tmp_path / "cache"))


@pytest.mark.slow  # trains a teacher (250 steps) and a student, then evaluates both: minutes on 2 cores
def test_reduced_demo_improves_the_student(own_cache: None, tmp_path: Path) -> None:
    teacher = TeacherConfig(task="arith", size="tiny", steps=250, batch_size=32, eval_size=10)
    config = DemoConfig(out=tmp_path / "demo", prompts=48, steps=40, eval_items=12, teacher=teacher)
    summary = run_demo(config)
    assert summary.teacher_queries == 48
    assert summary.untrained_student_token_agreement is not None
    assert summary.student_token_agreement is not None
    assert summary.student_token_agreement > summary.untrained_student_token_agreement + 0.1
    assert summary.student_kl is not None and summary.untrained_student_kl is not None
    assert summary.student_kl < summary.untrained_student_kl
    report = json.loads((tmp_path / "demo" / "distill" / "eval" / "report.json").read_text())
    assert set(report["models"]) == {"model", "teacher", "baseline"}
    assert Path(summary.report).is_file()
    assert set(summary.stage_seconds) == {"generate", "train", "eval"}
    written = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert list(written) == SUMMARY_KEYS and written == summary.to_json()
    again = run_demo(config)  # everything reused: same numbers, nothing retrained
    assert again.student_token_agreement == summary.student_token_agreement
