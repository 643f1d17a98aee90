"""`distillab eval` and `distillab report`: score a model against its task and its teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from distillab.cli.options import option
from distillab.evaluate.config import EvalConfig
from distillab.evaluate.result import EvalReport
from distillab.fields import help_of

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


def _opt(name: str, *flags: str) -> object:
    return option(EvalConfig, name, *flags)


def eval_command(
    model: str = typer.Option(..., "--model", help=help_of(EvalConfig, "model")),
    out: Path = typer.Option(..., "--out", help=help_of(EvalConfig, "out")),
    task: str = _opt("task", "--task"),  # type: ignore[assignment]
    checker: Optional[str] = _opt("checker", "--checker"),  # type: ignore[assignment]
    teacher: Optional[str] = _opt("teacher", "--teacher"),  # type: ignore[assignment]
    baseline: Optional[str] = _opt("baseline", "--baseline"),  # type: ignore[assignment]
    data: Optional[Path] = _opt("data", "--data"),  # type: ignore[assignment]
    n: int = _opt("n", "--n"),  # type: ignore[assignment]
    max_tokens: int = _opt("max_tokens", "--max-tokens"),  # type: ignore[assignment]
    top_logprobs: int = _opt("top_logprobs", "--top-logprobs"),  # type: ignore[assignment]
    speed_requests: int = _opt("speed_requests", "--speed-requests"),  # type: ignore[assignment]
    concurrency: int = _opt("concurrency", "--concurrency"),  # type: ignore[assignment]
    api_key_env: str = _opt("api_key_env", "--api-key-env"),  # type: ignore[assignment]
    seed: int = _opt("seed", "--seed"),  # type: ignore[assignment]
    progress: bool = _opt("progress", "--progress/--no-progress"),  # type: ignore[assignment]
) -> None:
    from distillab.evaluate import EvalConfig, run_eval  # keeps `distillab --help` fast

    config = EvalConfig(
        model=model,
        out=out,
        task=task,
        checker=checker,
        teacher=teacher,
        baseline=baseline,
        data=data,
        n=n,
        max_tokens=max_tokens,
        top_logprobs=top_logprobs,
        speed_requests=speed_requests,
        concurrency=concurrency,
        api_key_env=api_key_env,
        seed=seed,
        progress=progress,
    )
    report = run_eval(config)
    print(summary(report))
    print(f"report: {out / 'report.html'}")


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
