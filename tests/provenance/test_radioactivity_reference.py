"""Open mode with a reference model: the tokens scored are those whose probability rose most in the
suspect over a model that never saw the marked text. Exact on innocent suspects, far more powerful on a
suspect that learned only a trace of the mark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from prove_world import MarkedModel, mark, random_keys, randomized_p, reading_files, rng
from scipy.stats import kstest
from typer.testing import CliRunner

from distillab.cli.main import app as cli
from distillab.errors import ConfigError
from distillab.models.generate import Engine
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.radioactivity import RadioactivityConfig, _rising, score_keys, suspect_predictions
from distillab.provenance.stats import binomial_pvalue

CONFIG = WatermarkConfig(delta=2.0)


def test_rising_picks_among_the_suspects_candidates_the_largest_rise() -> None:
    own = torch.log(torch.tensor([[[0.40, 0.30, 0.20, 0.10]]]))
    theirs = torch.log(torch.tensor([[[0.50, 0.10, 0.20, 0.01]]]))
    # Rises: -0.22, +1.10, 0, +2.30. Token 3 rose most but is not among the suspect's 3 most likely.
    assert _rising(own, theirs, top_k=1, candidates=3).tolist() == [[[1]]]
    assert _rising(own, theirs, top_k=2, candidates=4).tolist() == [[[3, 1]]]


def test_with_a_reference_an_innocent_suspect_is_calibrated_across_keys(
    tiny_model_dir: Path, teacher: Engine, plain_texts: list[list[int]]
) -> None:
    suspect = Engine.load(tiny_model_dir, device="cpu").model  # never saw any key
    windows, predicted = suspect_predictions(
        suspect, plain_texts, CONFIG.width, reference=teacher.model, candidates=20
    )
    assert len(predicted) == sum(len(t) for t in plain_texts)
    keys = random_keys(300, CONFIG)
    tallies = score_keys(keys, windows, predicted)
    u = rng(3).uniform(size=len(keys))
    randomized = [randomized_p(t.green, t.scored, 0.25, ui) for t, ui in zip(tallies, u)]
    exact = np.asarray([binomial_pvalue(t.green, t.scored, 0.25) for t in tallies])
    assert kstest(randomized, "uniform").pvalue > 1e-3 and (exact < 1e-3).sum() <= 3
    assert min(t.scored for t in tallies) > 100


def test_a_reference_finds_a_trace_of_the_mark_that_top_predictions_miss(
    teacher: Engine, plain_texts: list[list[int]]
) -> None:
    """A suspect that learned a faint bias (delta 0.3, not the served 2.0) on top of the teacher."""
    faint = mark(WatermarkConfig(delta=0.3))
    suspect = MarkedModel(teacher.model, [faint])
    texts = plain_texts[:12]
    plain = score_keys([faint], *suspect_predictions(suspect, texts, CONFIG.width, batch_size=4))[0]
    rising = score_keys(
        [faint],
        *suspect_predictions(
            suspect, texts, CONFIG.width, batch_size=4, reference=teacher.model, candidates=20
        ),
    )[0]
    p_plain = binomial_pvalue(plain.green, plain.scored, 0.25)
    p_rising = binomial_pvalue(rising.green, rising.scored, 0.25)
    assert p_rising < 1e-12 and p_rising < 1e-6 * p_plain, (p_plain, p_rising)


def test_reference_on_the_command_line(
    tiny_model_dir: Path, teacher_dir: Path, teacher: Engine, tmp_path: Path, plain_texts: list[list[int]]
) -> None:
    texts, key = reading_files(tmp_path, teacher, plain_texts)
    done = CliRunner().invoke(
        cli,
        [
            "prove",
            "radioactivity",
            "--suspect",
            str(tiny_model_dir),
            "--texts",
            str(texts),
            "--unmarked-texts",
            "--reference",
            str(teacher_dir),
            "--candidates",
            "10",
            "--key-file",
            str(key),
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ],
    )
    assert done.exit_code == 0, done.output
    (test,) = json.loads((tmp_path / "out" / "evidence.json").read_text())["tests"]
    assert test["details"]["reference"] == str(teacher_dir) and test["details"]["candidates"] == 10
    assert "rose most over that of the reference model" in test["method"]
    assert any("reference model does not depend on the key" in a for a in test["assumptions"])
    with pytest.raises(ConfigError, match="--reference is for open mode"):
        RadioactivityConfig(
            suspect="http://127.0.0.1:9/v1", tokenizer=teacher_dir, reference=teacher_dir, out=tmp_path
        )
    with pytest.raises(ConfigError, match="--candidates must be in"):
        RadioactivityConfig(suspect=str(tiny_model_dir), texts=texts, top_k=5, candidates=3, out=tmp_path)
    with pytest.raises(ConfigError, match="not a model directory"):
        RadioactivityConfig(
            suspect=str(tiny_model_dir), texts=texts, reference=tmp_path / "nope", out=tmp_path
        )


def test_a_reference_with_another_vocabulary_is_refused(
    tiny_model_dir: Path, teacher: Engine, tmp_path: Path, plain_texts: list[list[int]]
) -> None:
    from distillab.toy.models import ModelSize, build_model
    from distillab.toy.tokenizer import build_tokenizer

    other = tmp_path / "other-vocab"
    tokenizer = build_tokenizer(
        ["the cat sat on the mat. " * 20, "a dog ran in the park. " * 20], vocab_size=300
    )
    build_model(tokenizer, ModelSize(layers=1, dim=32, heads=2, max_positions=64), seed=0).save_pretrained(
        other
    )
    tokenizer.save_pretrained(other)
    texts, key = reading_files(tmp_path, teacher, plain_texts[:2])
    done = CliRunner().invoke(
        cli,
        [
            "prove",
            "radioactivity",
            "--suspect",
            str(tiny_model_dir),
            "--texts",
            str(texts),
            "--reference",
            str(other),
            "--key-file",
            str(key),
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ],
    )
    assert isinstance(done.exception, ConfigError), done.output
    assert "--reference" in str(done.exception) and "vocabulary differs" in str(done.exception)
    assert not (tmp_path / "out" / "evidence.json").exists()
