"""Teacher training: a tiny config for a few steps learns, saves a loadable model dir, and is cached.

One torch thread: torch is already loaded here with spinning OpenMP threads, which crawl on a busy CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.errors import ConfigError
from distillab.toy.config import TeacherConfig
from distillab.toy.train_teacher import toy_teacher, train_teacher

TINY = TeacherConfig(task="arith", size="tiny", steps=30, batch_size=16, lr=3e-3, eval_size=16)


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("teacher")
    info = train_teacher(TINY, out, progress=False, threads=1)
    return out, info


def test_loss_falls_and_info_is_recorded(tiny_teacher: tuple[Path, dict]) -> None:
    out, info = tiny_teacher
    assert info["final_loss"] < 0.7 * info["first_loss"]
    assert info["steps_done"] == 30 and 0.0 <= info["arith_accuracy"] <= 1.0
    assert json.loads((out / "toy_info.json").read_text()) == info


def test_saved_dir_loads_and_chats(tiny_teacher: tuple[Path, dict]) -> None:
    out, _ = tiny_teacher
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    end_ids = {tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|end|>")}
    assert set(model.generation_config.eos_token_id) == end_ids
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Mia has 3 apples."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out_ids = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out_ids.shape[1] > ids["input_ids"].shape[1]


def test_text_task_trains(tmp_path: Path) -> None:
    config = TeacherConfig(task="text", size="tiny", steps=12, batch_size=8, eval_size=8)
    info = train_teacher(config, tmp_path, progress=False, threads=1)
    assert info["final_loss"] < info["first_loss"] and info["text_loss"] > 0


def test_toy_teacher_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    config = TeacherConfig(task="arith", size="tiny", steps=3, batch_size=4, eval_size=0)
    first = toy_teacher(config, progress=False, threads=1)

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached teacher was trained again")

    monkeypatch.setattr("distillab.toy.train_teacher.train_teacher", no_training)
    second = toy_teacher(config, progress=False, threads=1)
    assert second == first
    assert (first / "model.safetensors").exists() and (first / "tokenizer.json").exists()


def test_config_reports_every_problem() -> None:
    with pytest.raises(ConfigError) as err:
        TeacherConfig(task="poetry", size="huge", lr=5.0)
    assert len(err.value.problems) == 3


@pytest.mark.slow
def test_default_arith_teacher_reaches_90_percent(tmp_path: Path) -> None:
    """The issue's goal (about 5 minutes on 2 cores); benchmarks/toy_teacher.py measures the time."""
    info = train_teacher(TeacherConfig(task="arith"), tmp_path, progress=False)
    assert info["arith_accuracy"] >= 0.90
