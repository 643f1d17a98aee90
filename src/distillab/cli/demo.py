"""`distillab demo`: the tiny world's distillation path end to end, no downloads."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = """Run distillab end to end on the built-in tiny world (CPU, no downloads).

Builds (or reuses) the tiny arith teacher and a random student a quarter of its size, serves the
teacher with `distillab serve` on loopback, and runs `distillab distill` against it: harvest answers
with top-20 log-probabilities over HTTP, train the student, evaluate student, teacher and the untrained
student on held-out problems. Prints where the report is; opens nothing. The first run also trains
the teacher (about 4 minutes on 2 cores); later runs reuse it, and a rerun skips finished stages.

Examples:

\b
  distillab demo
  distillab demo --out runs/demo --prompts 500 --steps 200      # a quicker, weaker student
"""


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Directory for everything the demo writes."),
    prompts: int = typer.Option(3000, "--prompts", min=1, help="Teacher queries: arith prompts to harvest."),
    steps: int = typer.Option(1200, "--steps", min=1, help="Student training steps."),
    eval_items: int = typer.Option(200, "--eval-items", min=1, help="Held-out problems each model answers."),
) -> None:
    from distillab.demo import DemoConfig, run_demo

    summary = run_demo(DemoConfig(out=out, prompts=prompts, steps=steps, eval_items=eval_items))

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    print(f"teacher accuracy {pct(summary['teacher_accuracy'])}; student {pct(summary['student_accuracy'])} "
          f"(untrained {pct(summary['untrained_student_accuracy'])}); token agreement with the teacher "
          f"{pct(summary['student_token_agreement'])} (untrained "
          f"{pct(summary['untrained_student_token_agreement'])})")
    print(f"demo finished in {summary['seconds']:.0f}s from {summary['teacher_queries']} teacher queries")
    print(f"report: {summary['report']}")
