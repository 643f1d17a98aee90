"""`run_train` end to end on the tiny world: the student moves toward the teacher, and every mode saves."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file
from train_world import World, closeness
from transformers import AutoModelForCausalLM

from distillab.errors import ConfigError
from distillab.train.config import TrainConfig
from distillab.train.trainer import TrainResult, run_train


def train(world: World, out: Path, **kw: Any) -> tuple[TrainResult, str]:
    """Train with small, fast defaults; returns the result and what was printed."""
    settings: dict[str, Any] = dict(
        student=world.student,
        data=world.harvest,
        out=out,
        loss="fkl",
        lr=1e-2,
        max_steps=30,
        batch_size=8,
        eval_fraction=0.1,
        progress=False,
    )
    settings.update(kw)
    buffer = io.StringIO()
    result = run_train(TrainConfig(**settings), console=Console(file=buffer, width=300))
    return result, buffer.getvalue()


def test_topk_kd_moves_student_toward_teacher(world: World, tmp_path: Path) -> None:
    teacher = world.teacher_model()
    before_model = AutoModelForCausalLM.from_pretrained(world.student)
    kl_before, agree_before = closeness(before_model, teacher, world.held_out)
    result, log = train(world, tmp_path / "kd", loss="fkl", kd_weight=0.5, max_steps=40)
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "kd")
    kl_after, agree_after = closeness(after, teacher, world.held_out)
    assert kl_after < 0.85 * kl_before, (kl_before, kl_after)
    assert agree_after > agree_before + 0.2, (agree_before, agree_after)
    moved = [not torch.equal(a, b) for a, b in zip(before_model.parameters(), after.parameters())]
    assert all(moved)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "README.md"):
        assert (tmp_path / "kd" / name).is_file(), name
    record = json.loads((tmp_path / "kd" / "distillab_train.json").read_text())
    assert record["teacher"]["name"] == "teacher" and record["dataset"]["signal"] == "topk"
    assert len(record["dataset"]["manifest_sha256"]) == 64 and record["steps"] == 40
    assert record["loss"] == {
        "name": "fkl",
        "params": {},
        "temperature": 1.0,
        "kd_weight": 0.5,
        "signal": "topk",
        "cross_tokenizer": None,
    }
    assert record["tokens_seen"] == result.tokens > 0 and record["eval"]["kd"] > 0 and record["seconds"] > 0
    assert record["encoding"]["exact_records"] >= 0.9 * record["dataset"]["records"]
    assert "distilled from teacher" in (tmp_path / "kd" / "README.md").read_text()
    assert "data: " in log and "saved" in log


def test_sft_on_text_only_harvest(world: World, tmp_path: Path) -> None:
    result, _ = train(world, tmp_path / "sft", data=world.text_harvest, loss="sft", max_steps=20)
    record = result.record
    assert record["dataset"]["signal"] == "text" and record["loss"]["kd_weight"] == 0.0
    assert result.eval["ce"] < 5.5  # ln(400) = 6.0 is a uniform guess
    assert record["eval_history"][-1]["step"] == 20


def test_fkl_on_text_only_fails_before_training(world: World, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="losses that work: sft"):
        train(world, tmp_path / "no", data=world.text_harvest, loss="fkl")
    assert not (tmp_path / "no").exists()


def test_resume_gives_the_same_weights(world: World, tmp_path: Path) -> None:
    settings = dict(max_steps=6, batch_size=4, grad_accum=2, save_every=3, loss="gjsd", beta=0.3)
    whole, _ = train(world, tmp_path / "whole", **settings)
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(tmp_path / "whole", resumed_dir)  # as if killed right after the step-3 checkpoint
    shutil.rmtree(resumed_dir / "checkpoints" / "step-000006")
    for path in resumed_dir.iterdir():
        if path.is_file():
            path.unlink()
    resumed, log = train(world, resumed_dir, resume=True, **settings)
    assert "resuming at step 3 of 6" in log
    a, b = load_file(tmp_path / "whole" / "model.safetensors"), load_file(resumed_dir / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.tokens == whole.tokens and resumed.train_loss == whole.train_loss
    with pytest.raises(ConfigError, match="different settings"):
        train(world, resumed_dir, resume=True, **{**settings, "beta": 0.4})


def test_lora_saves_merged_model_and_adapter(world: World, tmp_path: Path) -> None:
    from peft import PeftModel

    train(world, tmp_path / "lora", lora_r=4, max_steps=10)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora")
    base = AutoModelForCausalLM.from_pretrained(world.student)
    assert not torch.equal(merged.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight)
    adapted = PeftModel.from_pretrained(base, tmp_path / "lora" / "adapter").merge_and_unload()
    x = torch.tensor([world.held_out[0][0]])
    torch.testing.assert_close(adapted(x).logits, merged(x).logits, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("on_policy", [0.0, 0.5])
def test_online_teacher_reduces_kl(world: World, tmp_path: Path, on_policy: float) -> None:
    teacher = world.teacher_model()
    kl_before, _ = closeness(AutoModelForCausalLM.from_pretrained(world.student), teacher, world.held_out)
    result, _ = train(
        world,
        tmp_path / "online",
        data=world.text_harvest,
        teacher=world.teacher,
        loss="fkl",
        kd_weight=1.0,
        on_policy=on_policy,
        max_new_tokens=10,
        chunk_size=16,
        max_steps=25,
    )
    trained = AutoModelForCausalLM.from_pretrained(tmp_path / "online")
    kl_after, _ = closeness(trained, teacher, world.held_out)
    assert kl_after < 0.85 * kl_before, (kl_before, kl_after)
    assert result.record["loss"]["signal"] == "logits"
    assert result.record["teacher"]["online"] == str(world.teacher)


def test_scale_warning_printed_once(world: World, tmp_path: Path) -> None:
    _, log = train(world, tmp_path / "w", kd_weight=0.01, temperature=2.0, max_steps=12)
    assert log.count("cross-entropy dominates the loss") == 1 and "--kd-weight" in log


def test_student_saved_back_in_its_own_dtype(world: World, tmp_path: Path) -> None:
    AutoModelForCausalLM.from_pretrained(world.student).to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    shutil.copytree(
        world.student,
        tmp_path / "bf16",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("config.json", "*.safetensors"),
    )
    train(world, tmp_path / "out", student=tmp_path / "bf16", max_steps=2)
    assert {t.dtype for t in load_file(tmp_path / "out" / "model.safetensors").values()} == {torch.bfloat16}
