"""Radioactivity: calibrated on innocent suspects, powerful on marked ones, per account, open and closed
mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prove_world import MASTER, MarkedModel, mark, random_keys, randomized_p, reading_files, rng
from scipy.stats import kstest
from typer.testing import CliRunner

from distillab.cli.main import app as cli
from distillab.errors import ConfigError
from distillab.models.generate import Engine, EngineRequest
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.detect import pairs
from distillab.provenance.radioactivity import RadioactivityConfig, score_keys, suspect_predictions
from distillab.provenance.radioactivity_results import radioactivity_results
from distillab.provenance.stats import binomial_pvalue
from distillab.provenance.watermark import Watermarker
from distillab.serving.app import create_app
from distillab.serving.background import run_in_background
from distillab.teacher.base import SamplingParams

CONFIG = WatermarkConfig(delta=2.0)


def test_open_mode_on_an_untrained_student_is_calibrated_across_keys(
    tiny_model_dir: Path, plain_texts: list[list[int]]
) -> None:
    student = Engine.load(tiny_model_dir, device="cpu").model  # random weights: never saw any key
    windows, predicted = suspect_predictions(student, plain_texts, CONFIG.width)
    assert len(predicted) == sum(len(t) for t in plain_texts)
    keys = random_keys(300, CONFIG)
    tallies = score_keys(keys, windows, predicted, seen=plain_texts)
    u = rng(2).uniform(size=len(keys))
    randomized = [randomized_p(t.green, t.scored, 0.25, ui) for t, ui in zip(tallies, u)]
    exact = np.asarray([binomial_pvalue(t.green, t.scored, 0.25) for t in tallies])
    assert kstest(randomized, "uniform").pvalue > 1e-3 and (exact < 1e-3).sum() <= 3
    assert min(t.scored for t in tallies) > 30
    # Its top 4 predictions at every position: four times the rows, the same windows, still calibrated.
    windows4, predicted4 = suspect_predictions(student, plain_texts, CONFIG.width, top_k=4)
    assert len(predicted4) == 4 * len(predicted) and (windows4[::4] == windows).all()
    assert (predicted4[::4] == predicted).all()
    tallies4 = score_keys(keys[:150], windows4, predicted4, seen=plain_texts)
    randomized4 = [randomized_p(t.green, t.scored, 0.25, ui) for t, ui in zip(tallies4, u)]
    assert kstest(randomized4, "uniform").pvalue > 1e-3


def test_a_suspect_that_copies_the_text_it_reads_is_never_evidence(teacher: Engine) -> None:
    m = mark(CONFIG)
    requests = [
        EngineRequest(
            teacher.encode_text(f"Bob has {i} cats. "), SamplingParams(max_tokens=40, seed=i), processor=m
        )
        for i in range(6)
    ]
    marked = [s.token_ids or [] for g in teacher.generate(requests) for s in g.samples]
    # "Predicting" each next token of watermarked text: green far above gamma, all of it copied.
    windows = np.concatenate([np.asarray(t[:-1])[:, None] for t in marked])
    copied = np.concatenate([np.asarray(t[1:]) for t in marked])
    naive = score_keys([m], windows, copied)[0]
    assert binomial_pvalue(naive.green, naive.scored, 0.25) < 1e-6
    honest = score_keys([m], windows, copied, seen=marked)[0]
    assert honest.scored == 0 and binomial_pvalue(honest.green, honest.scored, 0.25) == 1.0


def test_open_mode_flags_a_marked_suspect_and_names_the_leaking_account(
    teacher: Engine, plain_texts: list[list[int]]
) -> None:
    accounts = ["acme", "globex", "initech"]
    marks = [mark(CONFIG, a) for a in accounts]
    suspect = MarkedModel(teacher.model, [marks[1]])
    windows, predicted = suspect_predictions(suspect, plain_texts[:12], CONFIG.width, batch_size=4)
    tallies = score_keys(marks, windows, predicted, seen=plain_texts[:12])
    results = radioactivity_results(
        "open", marks, tallies, sample_sizes={"texts": 12, "tokens": 12 * 48}, suspect="suspect-dir"
    )
    by_name = {r.name: r for r in results}
    assert by_name["radioactivity/open/globex"].details["p_holm"] < 1e-6
    assert by_name["radioactivity/open/acme"].details["p_holm"] > 0.01
    combined = by_name["radioactivity/open/any-key"]
    assert combined.significant and combined.details["flagged_accounts"] == ["globex"]
    assert combined.p_value == pytest.approx(min(r.details["p_holm"] for r in results[:3]))
    assert json.dumps([r.to_json() for r in results])  # evidence is JSON-serialisable


def test_open_mode_cli_writes_evidence(
    tiny_model_dir: Path, tmp_path: Path, teacher: Engine, plain_texts: list[list[int]]
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
            "--key-file",
            str(key),
            "--tokenizer",
            str(tiny_model_dir),
            "--account",
            "acme",
            "--account",
            "globex",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ],
    )
    assert done.exit_code == 0, done.output
    tests = json.loads((tmp_path / "out" / "evidence.json").read_text())["tests"]
    assert [t["name"] for t in tests] == [
        "radioactivity/open/acme",
        "radioactivity/open/globex",
        "radioactivity/open/any-key",
    ]
    assert (tmp_path / "out" / "evidence.html").is_file() and "scored" in done.output
    with pytest.raises(ConfigError, match="--texts is required"):
        RadioactivityConfig(suspect=str(tiny_model_dir), out=tmp_path)
    with pytest.raises(ConfigError, match="--tokenizer is required"):
        RadioactivityConfig(suspect="http://127.0.0.1:9/v1", out=tmp_path)


def test_closed_mode_flags_a_server_that_serves_marked_text(
    teacher: Engine, teacher_dir: Path, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"id": f"p{i}", "prompt": f"Ann has {i} pens. "}) + "\n" for i in range(12))
    )
    key = tmp_path / "wm.key"
    key.write_bytes(MASTER)
    app = create_app(teacher, model_name="suspect", watermarker=Watermarker(CONFIG, MASTER))
    with run_in_background(app) as url:
        done = CliRunner().invoke(
            cli,
            [
                "prove",
                "radioactivity",
                "--suspect",
                url + "/v1",
                "--tokenizer",
                str(teacher_dir),
                "--prompts",
                str(prompts),
                "--samples",
                "2",
                "--max-tokens",
                "40",
                "--key-file",
                str(key),
                "--out",
                str(tmp_path / "out"),
                "--no-progress",
            ],
        )
    assert done.exit_code == 0, done.output
    (test,) = json.loads((tmp_path / "out" / "evidence.json").read_text())["tests"]
    assert test["name"] == "radioactivity/closed" and test["p_value"] < 1e-6
    assert test["sample_sizes"]["prompts"] == 12 and test["sample_sizes"]["texts"] == 24


@pytest.mark.slow
def test_an_honest_model_reading_marked_text_is_not_flagged(teacher: Engine) -> None:
    """The teacher itself (unmarked weights) reads its own watermarked answers, for 40 keys."""
    p_values = []
    for k, m in enumerate(random_keys(40, CONFIG)):
        requests = [
            EngineRequest(
                teacher.encode_text(f"Ann has {i} pens. "),
                SamplingParams(max_tokens=40, seed=1000 * k + i),
                processor=m,
            )
            for i in range(8)
        ]
        marked = [s.token_ids or [] for g in teacher.generate(requests) for s in g.samples]
        windows, predicted = suspect_predictions(teacher.model, marked, m.width)
        counts = score_keys([m], windows, predicted, seen=marked)[0]
        p_values.append(binomial_pvalue(counts.green, counts.scored, 0.25))
    assert np.mean(np.asarray(p_values) < 0.05) <= 0.15


def test_unmarked_texts_score_more_pairs_and_are_refused_when_marked(
    tiny_model_dir: Path, tmp_path: Path, teacher: Engine, plain_texts: list[list[int]]
) -> None:
    key = tmp_path / "wm.key"
    key.write_bytes(MASTER)

    def run(texts: list[list[int]], name: str) -> Any:
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps({"completion": teacher.tokenizer.decode(t)}) + "\n" for t in texts)
        )
        return CliRunner().invoke(
            cli,
            [
                "prove",
                "radioactivity",
                "--suspect",
                str(tiny_model_dir),
                "--texts",
                str(path),
                "--key-file",
                str(key),
                "--unmarked-texts",
                "--out",
                str(tmp_path / name),
                "--no-progress",
            ],
        )

    done = run(plain_texts, "plain")
    assert done.exit_code == 0, done.output
    (test,) = json.loads((tmp_path / "plain" / "evidence.json").read_text())["tests"]
    assert test["sample_sizes"]["excluded_positions"] == 0 and test["details"]["unmarked_texts"] is True
    # (This random teacher's token sequences often re-tokenize differently, which blurs the mark: use plenty.)
    requests = [
        EngineRequest(
            teacher.encode_text(f"Bob has {i} cats. "),
            SamplingParams(max_tokens=60, seed=i),
            processor=mark(CONFIG),
        )
        for i in range(12)
    ]
    marked = [s.token_ids or [] for g in teacher.generate(requests) for s in g.samples]
    refused = run(marked, "marked")
    assert isinstance(refused.exception, ConfigError) and "carries the watermark" in str(refused.exception)


def test_closed_mode_on_repetitive_low_entropy_answers_is_calibrated_across_keys() -> None:
    """What a served instruct model returns: several samples per prompt, the same few phrases again and
    again, and the prompt's own words echoed back. Scored once per distinct pair, with the prompts' pairs
    skipped, the p-values over 400 keys are uniform; counted at every position they are not (repeats are
    copies of one coin flip), which is what this test would catch."""
    r = rng(5)
    phrases = [list(r.integers(0, 40, size=r.integers(3, 9))) for _ in range(25)]
    prompts = [list(r.integers(0, 400, size=12)) for _ in range(16)]
    weights = 1 / np.arange(1, len(phrases) + 1) ** 1.5  # a few phrases dominate: low entropy
    completions = []
    for prompt in prompts:
        for _ in range(4):  # four samples per prompt
            picks = r.choice(len(phrases), size=6, p=weights / weights.sum())
            completions.append(prompt[-4:] + [t for i in picks for t in phrases[i]])
    windows, tokens = pairs(completions, CONFIG.width)
    keys = random_keys(400, CONFIG)
    tallies = score_keys(keys, windows, tokens, seen=prompts)
    assert 60 < tallies[0].scored < tallies[0].scored_all / 5  # mostly repeats
    u = rng(6).uniform(size=len(keys))
    distinct = [randomized_p(t.green, t.scored, 0.25, ui) for t, ui in zip(tallies, u)]
    assert kstest(distinct, "uniform").pvalue > 1e-3
    every = [randomized_p(t.green_all, t.scored_all, 0.25, ui) for t, ui in zip(tallies, u)]
    assert kstest(every, "uniform").pvalue < 1e-6
