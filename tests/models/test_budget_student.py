"""Students for any causal-LM teacher: same tokenizer, at most a quarter of the parameters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from distillab.errors import ModelError
from distillab.toy.models import count_parameters
from distillab.toy.student import build_student
from distillab.toy.tokenizer import other_tokenizer


def test_student_of_tiny_teacher(tiny_model_dir: Path, tmp_path: Path) -> None:
    info = build_student(tiny_model_dir, tmp_path / "student")
    student = AutoModelForCausalLM.from_pretrained(tmp_path / "student")
    teacher = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert count_parameters(student) == info["parameters"]
    assert count_parameters(student) * 4 <= count_parameters(teacher)
    assert student.config.vocab_size == teacher.config.vocab_size
    tok_s = AutoTokenizer.from_pretrained(tmp_path / "student")
    tok_t = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok_s.get_vocab() == tok_t.get_vocab() and tok_s.chat_template == tok_t.chat_template
    assert student.generation_config.eos_token_id == teacher.generation_config.eos_token_id
    assert json.loads((tmp_path / "student" / "toy_info.json").read_text())["ratio"] <= 0.25


def test_student_of_a_gpt2_teacher(tiny_model_dir: Path, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    teacher_dir = tmp_path / "gpt2"
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=96, n_layer=4, n_head=4, n_positions=128)
    GPT2LMHeadModel(config).save_pretrained(teacher_dir)
    tokenizer.save_pretrained(teacher_dir)
    info = build_student(teacher_dir, tmp_path / "student", max_ratio=0.2)
    assert info["ratio"] <= 0.2 and info["layers"] == 2  # half of 4


def test_missing_tokenizer_or_config_is_a_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tiny_model_dir / "config.json", bare / "config.json")
    with pytest.raises(ModelError, match="tokenizer"):
        build_student(bare, tmp_path / "s1")
    with pytest.raises(ModelError, match="config.json"):
        build_student(tmp_path / "nowhere", tmp_path / "s2")


def test_impossible_budget_is_explained(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="embedding"):
        build_student(tiny_model_dir, tmp_path / "s", max_ratio=0.01)


def test_student_with_the_second_tokenizer(tiny_model_dir: Path, tmp_path: Path) -> None:
    other = other_tokenizer()
    info = build_student(tiny_model_dir, tmp_path / "student", tokenizer=other)
    student = AutoModelForCausalLM.from_pretrained(tmp_path / "student")
    tok = AutoTokenizer.from_pretrained(tmp_path / "student")
    assert info["own_tokenizer"] and info["ratio"] <= 0.25
    assert student.config.vocab_size == len(tok) == len(other) == 512
    assert tok.get_vocab() == other.get_vocab() != AutoTokenizer.from_pretrained(tiny_model_dir).get_vocab()
    assert student.generation_config.eos_token_id == [tok.eos_token_id, tok.convert_tokens_to_ids("<|end|>")]
    assert student.config.eos_token_id == tok.eos_token_id
