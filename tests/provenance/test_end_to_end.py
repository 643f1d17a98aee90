"""End to end on the tiny world: serve a watermarked teacher, harvest it, distill a student, prove it.

Everything goes through the user path: `create_app` with a watermark (what `distillab serve
--watermark-key-file` runs), `run_harvest` over HTTP (`distillab generate`), `run_train` (`distillab
train`), and `run_radioactivity` (`distillab prove radioactivity`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prove_world import MASTER
from rich.console import Console

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.models.generate import Engine
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.radioactivity import RadioactivityConfig, run_radioactivity
from distillab.provenance.watermark import Watermarker
from distillab.serving.app import create_app
from distillab.serving.background import run_in_background
from distillab.toy.models import ModelSize, build_model
from distillab.train.config import TrainConfig
from distillab.train.trainer import run_train

CONFIG = WatermarkConfig(delta=2.0)


def _prompts(path: Path, start: int, n: int) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "prompt": f"Ann has {i} pens and {i % 7} cats. "}) + "\n"
            for i in range(start, start + n)
        )
    )
    return path


def _harvest(teacher: Engine, watermarker: Watermarker | None, prompts: Path, out: Path) -> Path:
    app = create_app(teacher, model_name="teacher", watermarker=watermarker, max_batch=64)
    with run_in_background(app) as url:
        run_harvest(
            HarvestConfig(
                teacher=url + "/v1",
                prompts=prompts,
                out=out,
                n=2,
                max_tokens=40,
                top_logprobs=0,
                seed=0,
                concurrency=32,
                progress=False,
            ),
            console=Console(quiet=True),
        )
    return out


@pytest.mark.slow
def test_a_student_distilled_from_watermarked_outputs_is_flagged_and_a_clean_one_is_not(
    teacher: Engine, teacher_dir: Path, tmp_path: Path
) -> None:
    key = tmp_path / "wm.key"
    key.write_bytes(MASTER)
    train_prompts = _prompts(tmp_path / "train.jsonl", 0, 160)
    # What the suspect reads: the teacher's own answers to other prompts, served without the watermark.
    reading = _harvest(teacher, None, _prompts(tmp_path / "read.jsonl", 5000, 60), tmp_path / "read")
    student = build_model(teacher.tokenizer, ModelSize(layers=2, dim=64, heads=4, max_positions=256), seed=1)
    student.save_pretrained(tmp_path / "student")
    teacher.tokenizer.save_pretrained(tmp_path / "student")
    p_values = {}
    for name, watermarker in [("marked", Watermarker(CONFIG, MASTER)), ("clean", None)]:
        data = _harvest(teacher, watermarker, train_prompts, tmp_path / f"harvest-{name}")
        run_train(
            TrainConfig(
                student=tmp_path / "student",
                data=data,
                out=tmp_path / f"student-{name}",
                loss="sft",
                lr=3e-3,
                max_steps=150,
                batch_size=16,
                eval_fraction=0.0,
                progress=False,
            ),
            console=Console(quiet=True),
        )
        (result,) = run_radioactivity(
            RadioactivityConfig(
                suspect=str(tmp_path / f"student-{name}"),
                texts=reading,
                key_file=key,
                out=tmp_path / f"prove-{name}",
                tokenizer=teacher_dir,
                progress=False,
            ),
            console=Console(quiet=True),
        )
        p_values[name] = result.p_value
    assert p_values["marked"] < 1e-5, p_values
    assert p_values["clean"] > 1e-3, p_values
