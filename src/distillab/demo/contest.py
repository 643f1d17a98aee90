"""`run_contest(config)`: the whole story of `distillab demo` on the tiny world.

1. the world (OUT/world, reused): teacher, random student, watermark key, honest reference traffic, and two
   innocent students trained on the task's own answers (the control and the attribution bystander);
2. one round per defense (OUT/round-DEFENSE): the gateway serves the watermarked teacher while simulated
   honest users and a many-account campaign query it; the campaign's harvest trains the attacker's student
   (and smaller ones for the extraction curve); the detector runs live (unless the defense is off) and
   offline; radioactivity and attribution tests run on the attacker's student;
3. the same tests on the control student, which never saw teacher output;
4. OUT/summary.json and OUT/report.html: every number comes from this run's files.
"""

from __future__ import annotations

import json
import time

from rich.console import Console

from distillab.atomic import write_text
from distillab.demo.config import ContestConfig
from distillab.demo.extraction import evaluate, reference_losses
from distillab.demo.membership import membership
from distillab.demo.proof import prove
from distillab.demo.results import ContestResult, ControlResult, TeacherScore
from distillab.demo.round import run_contest_round
from distillab.demo.story import render_report
from distillab.demo.world import build_world


def run_contest(config: ContestConfig, console: Console | None = None) -> ContestResult:
    """Run (or resume) every step; returns the summary, also written to OUT/summary.json with
    OUT/report.html."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    config.out.mkdir(parents=True, exist_ok=True)
    console.rule("the world: teacher, students, watermark key, honest reference traffic")
    world = build_world(config, console)
    console.rule("the control: a student that never saw the teacher's answers")
    control = ControlResult(
        score=evaluate(world.control, world.root / "eval-control", config, world, console),
        proof=prove(world.control, world.root / "prove-control", world, config, console),
    )
    teacher = evaluate(world.teacher, world.root / "eval-teacher", config, world, console)
    untrained = evaluate(world.student_init, world.root / "eval-student-init", config, world, console)
    rounds = {defense: run_contest_round(config, world, defense, console) for defense in config.defenses}
    first = (
        config.out / f"round-{config.defenses[0]}"
    )  # the control is checked against the first round's answers
    control.proof.membership = membership(
        world.control, first, first / "prove-control-membership", world, config, console
    )
    summary = ContestResult(
        task=config.task,
        metric=config.metric,
        reference_losses=reference_losses(config, world) if config.task != "arith" else None,
        teacher=TeacherScore(str(world.teacher), teacher),
        untrained_student_score=untrained,
        control=control,
        rounds=rounds,
        config=config,
        seconds=round(time.monotonic() - started, 1),
    )
    write_text(config.out / "summary.json", json.dumps(summary.to_json(), indent=1, default=str) + "\n")
    write_text(config.out / "report.html", render_report(summary))
    summary.report = str(config.out / "report.html")
    return summary
