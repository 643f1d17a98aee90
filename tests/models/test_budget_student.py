"""Students within a parameter budget (`random_student(..., max_ratio=R)`): any causal-LM teacher, same
tokenizer or another one, at most R of the teacher's parameters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from distillab.errors import ConfigError, ModelError
from distillab.models.random_init import random_student
from distillab.models.student import METADATA
from distillab.toy.models import count_parameters
from distillab.toy.tokenizer import other_tokenizer


def test_student_of_tiny_teacher(tiny_model_dir: Path, tmp_path: Path) -> None:
    result = random_student(tiny_model_dir, tmp_path / "student", max_ratio=0.25)
    student = AutoModelForCausalLM.from_pretrained(tmp_path / "student")
    teacher = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert count_parameters(student) == result.student_parameters
    assert count_parameters(student) * 4 <= count_parameters(teacher)
    assert student.config.vocab_size == teacher.config.vocab_size
    assert student.config.tie_word_embeddings and student.config.num_hidden_layers == 2
    tok_s = AutoTokenizer.from_pretrained(tmp_path / "student")
    tok_t = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok_s.get_vocab() == tok_t.get_vocab() and tok_s.chat_template == tok_t.chat_template
    assert student.generation_config.eos_token_id == teacher.generation_config.eos_token_id
    written = json.loads((tmp_path / "student" / METADATA).read_text())
    assert written["ratio"] <= 0.25 and written["init"] == "random" and written["own_tokenizer"] is False


def test_student_of_a_gpt2_teacher(tiny_model_dir: Path, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    teacher_dir = tmp_path / "gpt2"
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=96, n_layer=4, n_head=4, n_positions=128)
    GPT2LMHeadModel(config).save_pretrained(teacher_dir)
    tokenizer.save_pretrained(teacher_dir)
    result = random_student(teacher_dir, tmp_path / "student", max_ratio=0.2)
    assert result.ratio <= 0.2 and result.layers == 2 and result.teacher_layers == 4  # half of 4
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "student").config.model_type == "llama"


def test_missing_tokenizer_or_config_is_a_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tiny_model_dir / "config.json", bare / "config.json")
    with pytest.raises(ModelError, match="tokenizer"):
        random_student(bare, tmp_path / "s1", max_ratio=0.25)
    with pytest.raises(ModelError, match="does not exist"):
        random_student(tmp_path / "nowhere", tmp_path / "s2", max_ratio=0.25)


def test_impossible_budget_is_explained(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="embedding"):
        random_student(tiny_model_dir, tmp_path / "s", max_ratio=0.01)


def test_a_budget_goes_without_a_shape_and_within_one(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not with layers, hidden") as caught:
        random_student(tiny_model_dir, tmp_path / "s", max_ratio=1.5, layers=1, hidden=32)
    assert "must be in (0, 1], got 1.5" in str(caught.value)


def test_student_with_the_second_tokenizer(tiny_model_dir: Path, tmp_path: Path) -> None:
    other = other_tokenizer()
    result = random_student(tiny_model_dir, tmp_path / "student", max_ratio=0.25, tokenizer=other)
    student = AutoModelForCausalLM.from_pretrained(tmp_path / "student")
    tok = AutoTokenizer.from_pretrained(tmp_path / "student")
    assert result.own_tokenizer and result.ratio <= 0.25
    assert student.config.vocab_size == len(tok) == len(other) == 512
    assert tok.get_vocab() == other.get_vocab() != AutoTokenizer.from_pretrained(tiny_model_dir).get_vocab()
    assert student.generation_config.eos_token_id == [tok.eos_token_id, tok.convert_tokens_to_ids("<|end|>")]
    assert student.config.eos_token_id == tok.eos_token_id
