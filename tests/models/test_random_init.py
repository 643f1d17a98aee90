"""A randomly initialised student of the teacher's family at a chosen shape: library, errors and CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, Qwen2Config

from distillab.errors import ConfigError, ModelError
from distillab.models import Engine, EngineRequest, SamplingParams, load_model
from distillab.models.prune import prune_layers
from distillab.models.random_init import random_student
from distillab.toy.models import count_parameters


def _save(model: torch.nn.Module, tokenizer_from: Path, out: Path) -> Path:
    model.save_pretrained(out)  # type: ignore[operator]
    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(out)
    return out


def test_a_random_student_has_the_asked_shape_the_teachers_tokenizer_and_fresh_weights(
    four_layer_teacher: Path, tmp_path: Path
) -> None:
    result = random_student(four_layer_teacher, tmp_path / "s", layers=2, hidden=32, seed=1)
    student, tokenizer = load_model(tmp_path / "s", device="cpu")
    teacher = AutoModelForCausalLM.from_pretrained(four_layer_teacher)
    config = student.config
    assert type(student) is type(teacher)
    # heads follow the teacher's head size (64 / 4 = 16), the MLP its width ratio (4x)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (2, 32, 2)
    assert (config.num_key_value_heads, config.intermediate_size, config.head_dim) == (2, 128, 16)
    assert config.vocab_size == teacher.config.vocab_size
    assert len(tokenizer) == len(AutoTokenizer.from_pretrained(four_layer_teacher))
    assert result.student_parameters == count_parameters(student)
    assert result.teacher_parameters == count_parameters(teacher)
    written = json.loads((tmp_path / "s" / "distillab_student.json").read_text())
    assert written["init"] == "random" and written["seed"] == 1 and written["layers"] == 2
    assert written["ratio"] == round(count_parameters(student) / count_parameters(teacher), 4) < 0.5
    # The seed decides the weights: the same seed again gives the same model, another a different one.
    again = random_student(four_layer_teacher, tmp_path / "again", layers=2, hidden=32, seed=1)
    other = random_student(four_layer_teacher, tmp_path / "other", layers=2, hidden=32, seed=2)
    weights = {
        name: load_model(r.out, device="cpu")[0].state_dict() for name, r in [("a", again), ("o", other)]
    }
    state = student.state_dict()
    assert all(torch.equal(state[k], weights["a"][k]) for k in state)
    assert not torch.equal(state["model.embed_tokens.weight"], weights["o"]["model.embed_tokens.weight"])
    engine = Engine(student, tokenizer)
    prompt = engine.encode_text("Ann has 3 pens.")
    request = EngineRequest(prompt, SamplingParams(max_tokens=4, temperature=0.0))
    assert len(engine.generate([request])[0].samples[0].token_ids or []) >= 1


def test_at_the_pruned_students_shape_it_has_the_pruned_students_size(
    four_layer_teacher: Path, tmp_path: Path
) -> None:
    pruned = prune_layers(four_layer_teacher, tmp_path / "pruned", layers=2)
    fresh = random_student(four_layer_teacher, tmp_path / "fresh", layers=2)
    assert fresh.student_parameters == pruned.student_parameters
    assert fresh.teacher_parameters == pruned.teacher_parameters and fresh.hidden_size == pruned.hidden_size
    a = load_model(tmp_path / "pruned", device="cpu")[0].state_dict()
    b = load_model(tmp_path / "fresh", device="cpu")[0].state_dict()
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert not torch.equal(a["model.layers.0.mlp.up_proj.weight"], b["model.layers.0.mlp.up_proj.weight"])


def test_another_family_keeps_its_class_grouped_attention_and_per_layer_types(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    config = Qwen2Config(
        vocab_size=len(AutoTokenizer.from_pretrained(tiny_model_dir)),
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    teacher = _save(AutoModelForCausalLM.from_config(config), tiny_model_dir, tmp_path / "qwen")
    random_student(teacher, tmp_path / "s", layers=3, hidden=32)
    student, _ = load_model(tmp_path / "s", device="cpu")
    cfg = student.config
    assert cfg.model_type == "qwen2" and type(student).__name__ == "Qwen2ForCausalLM"
    assert (cfg.num_attention_heads, cfg.num_key_value_heads, cfg.intermediate_size) == (2, 1, 80)
    assert len(cfg.layer_types) == 3


def test_shapes_that_cannot_work_are_config_errors_and_write_nothing(
    four_layer_teacher: Path, tmp_path: Path
) -> None:
    out = tmp_path / "s"
    with pytest.raises(ConfigError, match="--hidden 40 is not divisible by --heads 3"):
        random_student(four_layer_teacher, out, hidden=40, heads=3)
    with pytest.raises(ConfigError, match="--heads 4 is not a multiple of --kv-heads 3"):
        random_student(four_layer_teacher, out, heads=4, kv_heads=3)
    with pytest.raises(ConfigError, match="--hidden 40 is not a multiple of the teacher's head size 16"):
        random_student(four_layer_teacher, out, hidden=40)
    with pytest.raises(ModelError, match="llama config of shape .* is invalid"):  # head size 5: odd for RoPE
        random_student(four_layer_teacher, out, hidden=20, heads=4)
    assert list(tmp_path.iterdir()) == []


def test_a_config_without_the_shape_fields_is_named(tiny_model_dir: Path, tmp_path: Path) -> None:
    gpt2 = GPT2Config(vocab_size=400, n_embd=32, n_layer=2, n_head=2, n_positions=64)
    teacher = _save(GPT2LMHeadModel(gpt2), tiny_model_dir, tmp_path / "gpt2")
    with pytest.raises(ModelError, match=r"gpt2.*config.json.*no intermediate_size, num_key_value_heads"):
        random_student(teacher, tmp_path / "s", layers=1)
    assert not (tmp_path / "s").exists()


def test_the_cli_builds_a_random_student_and_refuses_mixed_flags(
    four_layer_teacher: Path, tmp_path: Path, student_cli: Callable[..., tuple[int, str]]
) -> None:
    teacher, out = str(four_layer_teacher), tmp_path / "s"
    flags = ("--init", "random", "--layers", "2", "--hidden", "32", "--heads", "4", "--kv-heads", "2")
    code, text = student_cli("--teacher", teacher, *flags, "--out", str(out))
    assert code == 0, text
    printed = json.loads(text.strip().splitlines()[0])
    assert printed["init"] == "random" and printed["layers"] == 2 and printed["hidden_size"] == 32
    assert AutoModelForCausalLM.from_pretrained(out).config.num_key_value_heads == 2
    assert "random, 2 layers x 32 wide" in text
    code, text = student_cli(
        "--teacher", teacher, "--layers", "2", "--hidden", "32", "--out", str(tmp_path / "p")
    )
    assert code == 1 and "--hidden: only with --init random" in text
    code, text = student_cli(
        "--teacher", teacher, "--init", "random", "--keep", "0,1", "--out", str(tmp_path / "k")
    )
    assert code == 1 and "--keep: only with --init prune" in text
    code, text = student_cli(
        "--teacher",
        teacher,
        "--init",
        "random",
        "--hidden",
        "30",
        "--heads",
        "4",
        "--out",
        str(tmp_path / "d"),
    )
    assert code == 1 and "not divisible" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
