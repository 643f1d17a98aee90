"""The real model distilled end to end, every step the command a user types: cut a student from
SmolLM2-135M-Instruct (a GGUF file), serve the teacher, harvest top-k log-probabilities, train with
forward KL, evaluate against the teacher. Small on purpose (minutes on 2 CPU cores); the long runs live
in benchmarks/. Numbers from this model describe a dequantized 4-bit copy, not the upstream model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from distillab.data.records import read_records
from distillab.serving.process import serve_process

pytestmark = [pytest.mark.real, pytest.mark.slow]

QUESTIONS = [
    "What does the Python function textwrap.dedent do?",
    "Name three uses of a hash table.",
    "Explain what a for loop is.",
    "What is the difference between a list and a tuple in Python?",
]


def _distillab(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "distillab.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"distillab {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_a_pruned_student_of_the_real_model_moves_toward_it(real_gguf: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    task = tmp_path / "task.jsonl"
    with prompts.open("w") as p, task.open("w") as t:
        for i, question in enumerate(QUESTIONS):
            messages = [{"role": "user", "content": question}]
            p.write(json.dumps({"id": f"q{i}", "messages": messages}) + "\n")
            t.write(json.dumps({"messages": messages, "answer": "."}) + "\n")
    cut = json.loads(
        _distillab("student", "--teacher", str(real_gguf), "--layers", "2", "--out", "student", cwd=tmp_path)
    )
    assert cut["kept_layers"] == [0, cut["teacher_layers"] - 1]
    with serve_process(real_gguf, log=tmp_path / "serve.log") as url:
        _distillab(
            "generate", "--teacher", url, "--prompts", str(prompts), "--out", "harvest", "--n", "2",
            "--max-tokens", "32", "--top-logprobs", "5", "--no-progress", cwd=tmp_path,
        )  # fmt: skip
        assert read_records(tmp_path / "harvest").num_rows == 2 * len(QUESTIONS)
        _distillab(
            "train", "--student", "student", "--data", "harvest", "--out", "kd", "--loss", "fkl",
            "--kd-weight", "1.0", "--max-steps", "12", "--batch-size", "4", "--lr", "5e-4",
            "--eval-fraction", "0", "--no-progress", cwd=tmp_path,
        )  # fmt: skip
        _distillab(
            "eval", "--model", "kd", "--baseline", "student", "--teacher", url, "--task", str(task),
            "--checker", "regex", "--n", "4", "--max-tokens", "32", "--top-logprobs", "5",
            "--speed-requests", "0", "--out", "eval", "--no-progress", cwd=tmp_path,
        )  # fmt: skip
    parity = json.loads((tmp_path / "eval" / "report.json").read_text())["parity"]
    trained, untrained = parity["model"]["token"], parity["baseline"]["token"]
    assert trained["positions"] > 0
    assert trained["kl"] < untrained["kl"]
    assert trained["top1_agreement"] > untrained["top1_agreement"]
