"""Teacher and student vocabularies: padded matrices work, token strings map (other tokenizers: test_xtok)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_train import train
from train_world import World, harvest
from transformers import AutoModelForCausalLM, AutoTokenizer

PADDED = 448
"""400 real tokens padded to a multiple of 64, as Qwen-style checkpoints do."""


def _pad(model_dir: Path, out: Path, copy_rows: bool) -> Path:
    """``model_dir`` with its vocabulary padded to ``PADDED`` rows (the tokenizer is unchanged).

    ``copy_rows``: the padded output rows copy real ones at 0.9 scale, so padded ids show up in the
    top-k (never as the argmax) like the not-quite-dead rows of a real padded checkpoint.
    """
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    real = model.get_output_embeddings().weight.shape[0]
    model.resize_token_embeddings(PADDED, mean_resizing=False)
    if copy_rows:
        with torch.no_grad():
            head = model.get_output_embeddings().weight
            head[real:] = 0.9 * head[torch.arange(PADDED - real) * 7 % real]
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def test_padded_teacher_vocabulary_goes_to_the_tail(world: World, tmp_path: Path) -> None:
    teacher = _pad(world.teacher, tmp_path / "padded-teacher", copy_rows=True)
    data = harvest(teacher, world.prompts, tmp_path / "h-padded", n=1, temperature=0.0)
    result, log = train(world, tmp_path / "kd", data=data, max_steps=5)
    stats = result.record["encoding"]
    assert stats["ids_beyond_vocab"] > 0 and stats["exact_records"] == stats["records"]
    assert "top-k entries have ids beyond the student's 400 output rows" in log
    assert result.eval["kd"] > 0


@pytest.mark.parametrize("padded", ["teacher", "student"])
def test_online_teacher_with_padded_vocabulary(world: World, tmp_path: Path, padded: str) -> None:
    teacher = _pad(world.teacher, tmp_path / "t", copy_rows=False) if padded == "teacher" else world.teacher
    student = _pad(world.student, tmp_path / "s", copy_rows=False) if padded == "student" else world.student
    result, log = train(
        world, tmp_path / "kd", student=student, teacher=teacher, data=world.text_harvest, max_steps=4
    )
    assert "distilling on the 400 ids both have" in log and result.steps == 4
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "kd").config.vocab_size == (
        PADDED if padded == "student" else 400
    )


def test_topk_given_as_token_strings_is_mapped_to_ids(world: World, tmp_path: Path) -> None:
    data = harvest(world.teacher, world.prompts, tmp_path / "h-strings", mode="strings", n=1)
    row = json.loads((data / "manifest.json").read_text())["teacher"]["capabilities"]
    assert row["token_ids"] is False
    result, _ = train(world, tmp_path / "kd", data=data, max_steps=5)
    stats = result.record["encoding"]
    assert result.record["dataset"]["signal"] == "topk"
    # Pieces holding part of a UTF-8 character decode to U+FFFD and cannot be mapped back; all others are.
    assert stats["aligned_tokens"] > 0.8 * stats["teacher_tokens"]
    assert stats["unmapped_strings"] < 0.1 * stats["topk_entries"]
