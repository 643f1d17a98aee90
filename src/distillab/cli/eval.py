"""`distillab eval` and `distillab report`: score a model against its task and its teacher."""

from __future__ import annotations

from pathlib import Path

import typer

from distillab.cli.from_config import from_config
from distillab.evaluate.config import EvalConfig
from distillab.evaluate.result import EvalReport

HELP = """Evaluate a model on a task, next to its teacher: accuracy, agreement, size, speed and cost.

The model, its --teacher and a --baseline each answer the task greedily (a model directory is loaded
here; a URL is called like any OpenAI-compatible server). Writes OUT/report.json and a self-contained
OUT/report.html (opens offline). Rerunning after a crash re-asks only the missing answers.

Examples:

\b
  distillab eval --model runs/student --teacher runs/teacher --task arith --out runs/eval
  distillab eval --model runs/student --baseline runs/student-init --teacher http://127.0.0.1:8000/v1 \\
      --task arith --out runs/eval --n 500
  distillab eval --model runs/student --task qa.jsonl --checker numeric --out runs/eval-qa
  distillab eval --model runs/student --task qa.jsonl --checker mypkg.checks:same_answer --out runs/eval

A task file has one JSON object per line with 'messages' (or 'prompt') and 'answer'. See docs/eval.md.
"""

REPORT_HELP = """Join several `distillab eval` runs into one report with the accuracy-vs-queries chart.

Each RUN is an eval output directory (or its report.json); the students' harvest sizes (teacher
queries) and losses come from their training records.

Examples:

\b
  distillab report runs/eval-250 runs/eval-1000 runs/eval-4000 --out runs/curve
"""


@from_config(EvalConfig, required=("model", "out"))
def eval_command(config: EvalConfig) -> None:
    from distillab.evaluate import run_eval  # keeps `distillab --help` fast

    report = run_eval(config)
    print(summary(report))
    print(f"report: {config.out / 'report.html'}")


def summary(report: EvalReport) -> str:
    """One line per model: accuracy, and agreement with the teacher where measured."""
    lines = []
    for role, m in report.models.items():
        parts = [f"{role:<8} {m.name}"]
        if m.accuracy is not None:
            parts.append(f"accuracy {100 * m.accuracy:.1f}%")
        parity = report.parity.get(role)
        token = parity.token if parity else None
        if token and token.top1_agreement is not None:
            parts.append(f"token agreement {100 * token.top1_agreement:.1f}%")
        if token and token.kl is not None:
            parts.append(f"KL {token.kl:.3f}")
        lines.append("  ".join(parts))
    return "\n".join(lines)


def report_command(
    runs: list[Path] = typer.Argument(..., help="Eval output directories (or report.json files)."),
    out: Path = typer.Option(..., "--out", help="Where to write the joined report.json and report.html."),
) -> None:
    from distillab.evaluate.report import combine, load_report, write_report

    joined = combine([load_report(run) for run in runs])
    write_report(joined, out)
    print(f"report: {out / 'report.html'}")
