"""Depth pruning: a student made of some of the teacher's layers, through the library and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from distillab.errors import ConfigError
from distillab.models import Engine, EngineRequest, SamplingParams, load_model
from distillab.models.prune import prune_layers, spread


def test_spread_keeps_the_first_and_last_layer_evenly() -> None:
    assert spread(30, 6) == [0, 6, 12, 17, 23, 29]
    assert spread(4, 2) == [0, 3] and spread(4, 4) == [0, 1, 2, 3] and spread(5, 1) == [4]
    with pytest.raises(ConfigError, match="between 1 and"):
        spread(4, 5)


def test_the_student_is_the_kept_layers_of_the_teacher_and_generates(
    four_layer_teacher: Path, tmp_path: Path
) -> None:
    result = prune_layers(four_layer_teacher, tmp_path / "student", layers=2)
    assert result.kept == [0, 3] and result.teacher_layers == 4
    assert result.student_parameters < result.teacher_parameters
    teacher = AutoModelForCausalLM.from_pretrained(four_layer_teacher)
    student, tokenizer = load_model(tmp_path / "student", device="cpu")
    assert student.config.num_hidden_layers == 2
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for new, old in enumerate(result.kept):
        for name, tensor in s_state.items():
            if name.startswith(f"model.layers.{new}."):
                assert torch.equal(tensor, t_state[name.replace(f"layers.{new}.", f"layers.{old}.")])
    assert torch.equal(s_state["model.embed_tokens.weight"], t_state["model.embed_tokens.weight"])
    # The KV cache is indexed by layer: generating with it must equal scoring without it.
    engine = Engine(student, tokenizer)
    prompt = engine.encode_text("Ann has 3 pens.")
    sample = engine.generate([EngineRequest(prompt, SamplingParams(max_tokens=8, temperature=0.0))])[
        0
    ].samples[0]
    assert sample.token_ids
    with torch.no_grad():
        ids = torch.tensor([prompt + sample.token_ids])
        greedy = student(ids).logits[0, len(prompt) - 1 : -1].argmax(-1).tolist()
    assert greedy == sample.token_ids
    written = json.loads((tmp_path / "student" / "distillab_student.json").read_text())
    assert written["kept_layers"] == [0, 3]


def test_the_cli_cuts_a_student_and_refuses_bad_requests(
    four_layer_teacher: Path, tmp_path: Path, student_cli: Callable[..., tuple[int, str]]
) -> None:
    teacher = str(four_layer_teacher)
    out = tmp_path / "s"
    code, text = student_cli("--teacher", teacher, "--keep", "0,2", "--out", str(out))
    assert code == 0, text
    assert json.loads((out / "distillab_student.json").read_text())["kept_layers"] == [0, 2]
    code, text = student_cli("--teacher", teacher, "--layers", "2", "--out", str(out))
    assert code == 1 and "not empty" in text
    code, text = student_cli(
        "--teacher",
        teacher,
        "--layers",
        "2",
        "--keep",
        "1",
        "--out",
        str(tmp_path / "b"),
    )
    assert code == 1 and "not both" in text
    code, text = student_cli("--teacher", teacher, "--keep", "0,9", "--out", str(tmp_path / "c"))
    assert code == 1 and "[0, 4)" in text and not (tmp_path / "c").exists()
    missing = str(tmp_path / "nope.gguf")
    code, text = student_cli("--teacher", missing, "--layers", "1", "--out", str(tmp_path / "d"))
    assert code == 1 and "nope.gguf" in text and not (tmp_path / "d").exists()
