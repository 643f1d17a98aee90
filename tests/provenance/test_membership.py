"""Membership of served answers: exact on a suspect that never saw them, powerful on one trained on them.
Real harvests from the tiny teacher served on loopback; a real SFT run makes the guilty suspect."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy.stats import binom
from typer.testing import CliRunner

from distillab.cli.main import app as cli
from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.records import read_records
from distillab.errors import ConfigError, DataError
from distillab.models.generate import Engine
from distillab.models.load import load_model
from distillab.provenance.membership import (
    MembershipConfig,
    answer_scores,
    membership_result,
    poisson_binomial_sf,
    run_membership,
)
from distillab.serving.app import create_app
from distillab.serving.background import run_in_background


def test_poisson_binomial_matches_the_binomial_and_does_not_underflow() -> None:
    for k in (0, 1, 7, 20):
        assert poisson_binomial_sf(k, [0.2] * 20) == pytest.approx(binom.sf(k - 1, 20, 0.2), rel=1e-9)
    mixed = [0.5, 0.25, 0.2]
    exact = sum(
        np.prod([p if b else 1 - p for p, b in zip(mixed, bits)])
        for bits in np.ndindex(2, 2, 2)
        if sum(bits) >= 2
    )
    assert poisson_binomial_sf(2, mixed) == pytest.approx(exact)
    assert (
        0 < poisson_binomial_sf(2000, [0.2] * 2000) < 1e-300 or poisson_binomial_sf(2000, [0.2] * 2000) == 0.0
    )
    assert poisson_binomial_sf(3, [0.5, 0.5]) == 0.0


def harvest(teacher_dir: Path, rows: list[dict], out: Path, n: int) -> Path:
    prompts = out.with_suffix(".jsonl")
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with run_in_background(create_app(Engine.load(teacher_dir, device="cpu"), model_name="t")) as url:
        run_harvest(
            HarvestConfig(
                teacher=url + "/v1",
                prompts=prompts,
                out=out,
                n=n,
                temperature=1.0,
                max_tokens=24,
                top_logprobs=0,
                concurrency=8,
                progress=False,
            ),
            console=Console(quiet=True),
        )
    return out


@pytest.fixture(scope="module")
def answers(teacher_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(served: one answer to each of 80 prompts, fresh: 4 more answers to each), from the same teacher."""
    folder = tmp_path_factory.mktemp("membership")
    rows = [{"id": f"p{i}", "prompt": f"Ann has {i} pens and {i + 3} cups. "} for i in range(80)]
    return harvest(teacher_dir, rows, folder / "served", 1), harvest(teacher_dir, rows, folder / "fresh", 4)


def test_an_innocent_suspect_is_calibrated_over_random_choices_of_the_served_answer(
    tiny_model_dir: Path, answers: tuple[Path, Path]
) -> None:
    """Each prompt's 5 answers are exchangeable: whichever is called "served", p is valid."""
    from distillab.provenance.membership import prompt_of, read_answers

    pool: dict[str, list] = {}
    for answer in read_answers(answers[0]) + read_answers(answers[1]):
        pool.setdefault(prompt_of(answer), []).append(answer)
    groups = [g for g in pool.values() if len(g) == 5]
    assert len(groups) >= 50  # prompts none of whose 5 answers came back empty
    model, tokenizer = load_model(str(tiny_model_dir), device="cpu")  # never saw any of them
    scores = answer_scores(model, tokenizer, [a for g in groups for a in g]).reshape(len(groups), 5)
    rng = np.random.default_rng(0)
    p_values = []
    for _ in range(400):
        pick = rng.integers(0, 5, size=len(groups))
        served = scores[np.arange(len(groups)), pick]
        rest = [np.delete(row, j) for row, j in zip(scores, pick)]
        p_values.append(membership_result(served, rest, suspect="x").p_value)
    p_values = np.asarray(p_values)
    # Valid on average over answers and picks; for one fixed set of answers the share wanders a little
    # (0.02 to 0.055 over four runs): bounds that a miscalibrated test (ties counted as wins, say) breaks.
    assert np.mean(p_values < 0.05) <= 0.09 and np.mean(p_values < 0.2) <= 0.27
    assert np.mean(p_values < 0.5) > 0.25  # and not degenerate


@pytest.fixture(scope="module")
def guilty(
    tiny_model_dir: Path, answers: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny model fine-tuned on the served answers."""
    from distillab.train.config import TrainConfig
    from distillab.train.trainer import run_train

    suspect = tmp_path_factory.mktemp("guilty") / "suspect"
    # lr 1e-2 for 200 steps learned them unevenly (33% to 70% on top over 5 runs); this, 62% to 81% over 6.
    run_train(
        TrainConfig(
            student=tiny_model_dir,
            data=answers[0],
            out=suspect,
            loss="sft",
            lr=3e-3,
            max_steps=400,
            batch_size=8,
            eval_fraction=0.0,
            progress=False,
        ),
        console=Console(quiet=True),
    )
    return suspect


def log_export(served: Path, path: Path, **params: object) -> Path:
    """What the gateway would have logged for those answers (`distillab logs export`), plus a refused
    request and a degraded answer, which the test must skip."""
    rows = read_records(served, columns=["prompt", "completion"]).to_pylist()
    lines = [
        {
            "prompt": r["prompt"],
            "messages": None,
            "response": r["completion"],
            "status": 200,
            "params": params,
            "decision": "allow",
        }
        for r in rows
    ]
    lines += [
        {"prompt": "refused", "messages": None, "response": None, "status": 429, "params": params},
        {
            "prompt": "degraded one",
            "messages": None,
            "response": "short",
            "status": 200,
            "params": params,
            "decision": "degrade",
        },
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_suspect_trained_on_the_served_answers_is_flagged_from_a_log_export(
    tiny_model_dir: Path, answers: tuple[Path, Path], guilty: Path, tmp_path: Path
) -> None:
    served, fresh = answers
    suspect = guilty
    # What the gateway would have logged: the request-log export of those answers.
    log = log_export(served, tmp_path / "served.jsonl")
    done = CliRunner().invoke(
        cli,
        [
            "prove",
            "membership",
            "--suspect",
            str(suspect),
            "--served",
            str(log),
            "--alternatives",
            str(fresh),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert done.exit_code == 0, done.output
    (test,) = json.loads((tmp_path / "out" / "evidence.json").read_text())["tests"]
    assert test["name"] == "membership/served-answers" and test["sample_sizes"]["prompts"] >= 60
    assert test["details"]["degraded_answers_skipped"] == 1
    # The answers are sampled afresh each run: over 6 runs the served answer topped 62% to 81% of the
    # prompts (p 7e-16 to 9e-31), against 20% by chance. The bounds leave room far below the weakest.
    assert test["p_value"] < 1e-6 and test["effect"]["share_served_on_top"] > 0.45, test
    assert (tmp_path / "out" / "evidence.html").is_file()
    # The model it started from never saw them: not flagged.
    innocent = run_membership(
        MembershipConfig(
            suspect=str(tiny_model_dir), served=log, alternatives=fresh, out=tmp_path / "innocent"
        ),
        console=Console(quiet=True),
    )
    assert innocent.p_value > 1e-3


def test_bad_inputs_are_named(tiny_model_dir: Path, answers: tuple[Path, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"prompt": "something else", "completion": "x"}) + "\n")
    with pytest.raises(DataError, match="--alternatives .*no answers to the prompts of --served"):
        run_membership(
            MembershipConfig(
                suspect=str(tiny_model_dir), served=answers[0], alternatives=other, out=tmp_path / "out"
            ),
            console=Console(quiet=True),
        )
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"prompt": "p"}) + "\n")
    with pytest.raises(DataError, match=r"broken.jsonl: row 1 has neither 'response'"):
        run_membership(
            MembershipConfig(
                suspect=str(tiny_model_dir), served=broken, alternatives=answers[1], out=tmp_path / "out"
            ),
            console=Console(quiet=True),
        )
    with pytest.raises(ConfigError, match="--alternatives .*not found"):
        MembershipConfig(
            suspect=str(tiny_model_dir), served=answers[0], alternatives=tmp_path / "nope", out=tmp_path
        )
    with pytest.raises(ConfigError, match="not a model directory"):
        MembershipConfig(
            suspect="http://127.0.0.1:9/v1", served=answers[0], alternatives=answers[1], out=tmp_path
        )


def test_fresh_answers_sampled_here_from_the_serving_model(
    teacher_dir: Path, answers: tuple[Path, Path], guilty: Path, tmp_path: Path
) -> None:
    log = log_export(answers[0], tmp_path / "served.jsonl", temperature=1.0, max_tokens=24)
    with run_in_background(create_app(Engine.load(teacher_dir, device="cpu"), model_name="t")) as url:
        result = run_membership(
            MembershipConfig(
                suspect=str(guilty),
                served=log,
                teacher=url + "/v1",
                samples=3,
                temperature=1.0,
                max_tokens=24,
                out=tmp_path / "out",
                progress=False,
            ),
            console=Console(quiet=True),
        )
        assert (
            result.p_value < 1e-5 and 0.25 <= result.effect["share_expected_by_chance"] < 0.3
        )  # 3 fresh each
        assert (
            result.details["teacher"] == url + "/v1"
            and (tmp_path / "out" / "fresh" / "manifest.json").is_file()
        )
        with pytest.raises(
            ConfigError, match="served with max_tokens=24, not --temperature 1.0 --max-tokens 64"
        ):
            run_membership(
                MembershipConfig(
                    suspect=str(guilty),
                    served=log,
                    teacher=url + "/v1",
                    temperature=1.0,
                    max_tokens=64,
                    out=tmp_path / "other",
                ),
                console=Console(quiet=True),
            )
    with pytest.raises(ConfigError, match="--teacher needs --temperature and --max-tokens"):
        MembershipConfig(suspect=str(guilty), served=log, teacher="http://127.0.0.1:9/v1", out=tmp_path)
    with pytest.raises(ConfigError, match="give one of --alternatives"):
        MembershipConfig(suspect=str(guilty), served=log, out=tmp_path)
