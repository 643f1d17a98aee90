"""`distillab score`: a teacher's log-probabilities on given answers, from a local model and from a server
(echo), checked against an independent forward pass, resumed, read by `train` unchanged; bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.records import read_records
from distillab.models import Engine
from distillab.serving import create_app, run_in_background
from distillab.train.config import TrainConfig
from distillab.train.trainer import run_train

ROWS: list[dict[str, Any]] = [
    {
        "id": "c1",
        "messages": [{"role": "user", "content": "Ann has 3 pens."}],
        "completion": "She has 3 pens.",
    },
    {"id": "c2", "messages": [{"role": "user", "content": "import json"}], "completion": "json.dumps(x)"},
    {"id": "r1", "prompt": "def add(a, b):", "completion": "\n    return a + b"},
    # The same prompt with another answer is another record.
    {"id": "c3", "messages": [{"role": "user", "content": "Ann has 3 pens."}], "completion": "Three."},
]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def score(teacher: str, prompts: Path, out: Path, **kw: Any) -> str:
    config = HarvestConfig(
        teacher=teacher, prompts=prompts, out=out, top_logprobs=5, score=True, progress=False, **kw
    )
    buffer = io.StringIO()
    run_harvest(config, console=Console(file=buffer, width=400))
    return buffer.getvalue()


def independent(model_dir: Path, row: dict[str, Any]) -> tuple[list[int], list[float], list[list[int]]]:
    """The completion's tokens as `train` encodes a finished record, scored straight by transformers."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    if "messages" in row:
        head_text = tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(
            [*row["messages"], {"role": "assistant", "content": row["completion"]}], tokenize=False
        )
        head = tokenizer(head_text, add_special_tokens=False)["input_ids"]
        tail = tokenizer(full[len(head_text) :], add_special_tokens=False)["input_ids"]
    else:
        head = tokenizer(row["prompt"])["input_ids"]
        tail = tokenizer(row["completion"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([head + tail])).logits[0].float(), dim=-1)
    rows = logprobs[len(head) - 1 : len(head) + len(tail) - 1]
    picked = [float(rows[j, t]) for j, t in enumerate(tail)]
    return tail, picked, rows.topk(5, dim=-1).indices.tolist()


def by_prompt(out: Path) -> dict[str, dict[str, Any]]:
    records = read_records(out).to_pylist()
    return {r["prompt_id"]: r for r in records}


@pytest.fixture(scope="module")
def scored_locally(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scored") / "local"
    score(str(tiny_model_dir), write(out.parent / "rows.jsonl", ROWS), out)
    return out


def test_a_local_teacher_scores_the_given_completions(scored_locally: Path, tiny_model_dir: Path) -> None:
    records = by_prompt(scored_locally)
    assert sorted(records) == ["c1", "c2", "c3", "r1"]
    for row in ROWS:
        record = records[row["id"]]
        tail, picked, top = independent(tiny_model_dir, row)
        assert record["completion"] == row["completion"] and record["finish_reason"] == "stop"
        assert record["token_ids"] == tail
        assert record["token_logprobs"] == pytest.approx(picked, abs=1e-4)
        assert [ids[:3] for ids in record["top_ids"]] == [ids[:3] for ids in top]
        assert record["params"]["max_tokens"] == 0 and record["usage"]["completion_tokens"] == 0
    manifest = json.loads((scored_locally / "manifest.json").read_text())
    assert manifest["mode"] == "score" and manifest["counts"]["records"] == len(ROWS)


def test_a_server_with_echo_gives_the_same_scores(
    scored_locally: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    with run_in_background(create_app(Engine.load(tiny_model_dir), model_name="tiny")) as url:
        score(url + "/v1", write(tmp_path / "rows.jsonl", ROWS), tmp_path / "http")
    local, http = by_prompt(scored_locally), by_prompt(tmp_path / "http")
    for key in local:
        assert http[key]["token_ids"] == local[key]["token_ids"]
        assert http[key]["token_logprobs"] == pytest.approx(local[key]["token_logprobs"], abs=1e-3)
        assert http[key]["top_ids"] == local[key]["top_ids"]


def test_rerun_scores_only_new_rows_and_train_reads_the_result(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = write(tmp_path / "rows.jsonl", ROWS[:2])
    score(str(tiny_model_dir), rows, tmp_path / "scored")
    write(rows, ROWS)
    said = score(str(tiny_model_dir), rows, tmp_path / "scored")
    assert "resuming: 2 records already stored, 2 to go" in said
    assert read_records(tmp_path / "scored").num_rows == len(ROWS)
    result = run_train(
        TrainConfig(
            student=tiny_model_dir, data=tmp_path / "scored", out=tmp_path / "kd", loss="fkl",
            max_steps=2, batch_size=2, eval_fraction=0.0, progress=False,
        )
    )  # fmt: skip
    encoding = result.record["encoding"]
    # Every scored token is the student's token (same tokenizer): the whole signal lines up.
    assert encoding["teacher_tokens"] > 0 and encoding["aligned_tokens"] == encoding["teacher_tokens"]
    assert result.steps == 2


def test_a_row_without_a_completion_is_named_and_nothing_is_written(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    rows = write(tmp_path / "rows.jsonl", [ROWS[0], {"prompt": "no answer here"}])
    done = subprocess.run(
        [
            sys.executable, "-m", "distillab.cli.main", "score", "--teacher", str(tiny_model_dir),
            "--prompts", str(rows), "--out", str(tmp_path / "out"), "--no-progress",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "rows.jsonl:2: no 'completion' to score" in done.stderr.replace("\n", "")
    assert not (tmp_path / "out").exists()
