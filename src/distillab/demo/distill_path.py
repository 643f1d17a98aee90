"""`distillab demo --distill-only`: the distillation path on the tiny world, end to end, on one CPU machine.

1. build or reuse the cached tiny arith teacher (`distillab toy teacher`) and a random student a
   quarter of its size (`distillab toy student`, `models.random_init.random_student`);
2. write arith prompts from the train split (`distillab toy prompts`); evaluation uses the test split;
3. serve the teacher with `distillab serve` on loopback, in its own process;
4. `distillab distill` against that URL: harvest answers with top-20 log-probabilities over HTTP,
   train the student (top-k forward KL mixed with cross-entropy), evaluate student, teacher and the
   untrained student on held-out problems, and write the report.

Every stage reuses its output when it is already there, so a rerun (or a run after a kill) is fast.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from distillab.data.records import data_files, read_records
from distillab.distill import DistillConfig, run_distill
from distillab.evaluate.result import EvalReport, TokenParity
from distillab.models.random_init import random_student
from distillab.serving.process import serve_process
from distillab.toy import arith
from distillab.toy.config import TeacherConfig
from distillab.toy.prompts import prompt_rows, write_rows
from distillab.toy.train_teacher import toy_teacher

TERMS = "Tiny-world teacher built locally by distillab; the user owns it and may distill it."


@dataclass(frozen=True)
class DemoConfig:
    """Size of the demo run. The defaults fit in a few minutes on 2 CPU cores once the teacher is cached."""

    out: Path = Path("runs/demo")
    prompts: int = 3000
    """Arith train-split prompts to harvest (teacher queries)."""
    steps: int = 1200
    """Student optimizer steps."""
    eval_items: int = 200
    """Held-out test problems every model answers."""
    top_logprobs: int = 20
    concurrency: int = 16
    teacher: TeacherConfig = field(default_factory=lambda: TeacherConfig(task="arith"))


@dataclass
class DemoResult:
    """The demo's numbers: what was harvested, and how the student compares with teacher and baseline
    (the untrained student); OUT/summary.json is `to_json()`."""

    teacher_queries: int
    answers_with_a_final_answer: int
    token_positions: int
    bytes_per_token: float | None
    teacher_accuracy: float | None
    student_accuracy: float | None
    untrained_student_accuracy: float | None
    student_token_agreement: float | None
    untrained_student_token_agreement: float | None
    student_kl: float | None
    untrained_student_kl: float | None
    seconds: float = 0.0
    stage_seconds: dict[str, float | None] = field(default_factory=dict)
    """Seconds of each distill stage ("generate", "train", "eval") as stages.json recorded them."""
    report: str = ""
    """The evaluation's report.html."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_demo(config: DemoConfig, console: Console | None = None) -> DemoResult:
    """Run every stage; returns (and writes to OUT/summary.json) what happened, with numbers."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    out = config.out
    out.mkdir(parents=True, exist_ok=True)

    console.rule("1. teacher and student")
    teacher_dir = toy_teacher(config.teacher)
    info = json.loads((teacher_dir / "toy_info.json").read_text())
    console.print(f"tiny arith teacher: {teacher_dir} (test accuracy {info.get('arith_accuracy', 'n/a')})")
    student_dir = out / "student-init"
    if not (student_dir / "config.json").is_file():
        sizes = random_student(teacher_dir, student_dir, seed=0, max_ratio=0.25)
        console.print(
            f"random student: {sizes.student_parameters:,} parameters, {sizes.ratio:.1%} of the teacher"
        )

    console.rule("2. prompts")
    rows = prompt_rows("arith", "train", config.prompts, seed=1)
    prompts = write_rows(rows, out / "prompts.jsonl")
    console.print(f"{len(rows)} arith train prompts: {prompts}")

    console.rule("3. serve and 4. distill")
    with serve_process(
        teacher_dir, extra_args=("--model-name", "tiny-teacher"), log=out / "serve.log"
    ) as url:
        console.print(f"teacher served at {url} (log: {out / 'serve.log'})")
        distill = DistillConfig(
            teacher=url,
            student=student_dir,
            prompts=prompts,
            out=out / "distill",
            loss="fkl",
            task="arith",
            generate={
                "temperature": 1.0,
                "max_tokens": 64,
                "top_logprobs": config.top_logprobs,
                "concurrency": config.concurrency,
                "terms": TERMS,
            },
            train={
                "max_steps": config.steps,
                "batch_size": 32,
                "lr": 3e-3,
                "kd_weight": 0.5,
                "eval_fraction": 0.02,
                "save_every": 200,
            },
            eval={
                "n": config.eval_items,
                "max_tokens": 64,
                "speed_requests": 8,
                "concurrency": config.concurrency,
            },
        )
        result = run_distill(distill, console=console)

    console.rule("5. summary")
    harvest = out / "distill" / "data"
    summary = summarise(harvest, result.report)
    summary.seconds = round(time.monotonic() - started, 1)
    stages = json.loads((out / "distill" / "stages.json").read_text())
    summary.stage_seconds = {
        stage: stages[stage].get("seconds") for stage in ("generate", "train", "eval") if stage in stages
    }
    summary.report = str(out / "distill" / "eval" / "report.html")
    (out / "summary.json").write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    return summary


def summarise(harvest_dir: Path, report: EvalReport | None) -> DemoResult:
    """What was harvested, and how the student compares with teacher and baseline (None: not evaluated)."""
    rows = read_records(harvest_dir, columns=["completion", "messages", "top_logprobs"]).to_pylist()
    positions = sum(len(r["top_logprobs"] or []) for r in rows)
    size = sum(f.stat().st_size for f in data_files(harvest_dir))

    def accuracy(role: str) -> float | None:
        model = report.models.get(role) if report else None
        return model.accuracy if model else None

    def token(role: str) -> TokenParity | None:
        parity = report.parity.get(role) if report else None
        return parity.token if parity else None

    student, untrained = token("model"), token("baseline")
    return DemoResult(
        teacher_queries=len(rows),
        answers_with_a_final_answer=sum(
            arith.extract_answer(r["completion"] or "") is not None for r in rows
        ),
        token_positions=positions,
        bytes_per_token=round(size / positions, 1) if positions else None,
        teacher_accuracy=accuracy("teacher"),
        student_accuracy=accuracy("model"),
        untrained_student_accuracy=accuracy("baseline"),
        student_token_agreement=student.top1_agreement if student else None,
        untrained_student_token_agreement=untrained.top1_agreement if untrained else None,
        student_kl=student.kl if student else None,
        untrained_student_kl=untrained.kl if untrained else None,
    )
