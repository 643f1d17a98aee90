"""`distillab distill`: generate, train and eval in one resumable run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from distillab.errors import ConfigError

HELP = """Harvest a teacher, train a student on it, and evaluate the student against the teacher.

Stages run in OUT: data/ (generate), student/ (train), eval/ (report.html). Rerunning the same command
skips finished stages and resumes a killed one (harvest journal, training checkpoints, stored
answers); changing a stage's settings reruns it and the stages after it. Every flag can also come
from a YAML or TOML file (--config); stage sections hold any option of that stage. The resolved
configuration is written to OUT/config.yaml.

Only distill teachers you may distill: your own or open-weight models, or APIs whose terms allow it.

Examples:

\b
  distillab distill --teacher runs/teacher --student runs/student-init --prompts prompts.jsonl \\
      --out runs/distill --loss fkl --task arith
  distillab distill --config distill.yaml
  distillab distill --config distill.yaml --set train.lr=3e-4 --set generate.max_tokens=128
  distillab distill --teacher http://127.0.0.1:8000/v1 --student runs/student-init \\
      --prompts prompts.jsonl --out runs/d --loss sft --until train

A config file (YAML):

\b
  teacher: http://127.0.0.1:8000/v1
  student: runs/student-init
  prompts: prompts.jsonl
  out: runs/distill
  loss: fkl
  generate: {max_tokens: 96, concurrency: 16, terms: "our own model"}
  train: {epochs: 3, lr: 3.0e-3, batch_size: 32}
  eval: {task: arith, n: 300}

See docs/distill.md.
"""


def _parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    import yaml

    sections: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        stage, dot, name = key.partition(".")
        if not sep or not dot or stage not in ("generate", "train", "eval") or not name:
            raise ConfigError(
                f"--set {item!r}: expected STAGE.OPTION=VALUE with STAGE generate, train or eval"
            )
        sections.setdefault(stage, {})[name] = yaml.safe_load(raw)
    return sections


def distill(
    config: Path | None = typer.Option(None, "--config", help="YAML or TOML file with any of these options."),
    teacher: str | None = typer.Option(None, "--teacher", help="Teacher: a model directory or a base URL."),
    student: Path | None = typer.Option(None, "--student", help="Student model directory to start from."),
    prompts: Path | None = typer.Option(None, "--prompts", help="Prompt file (.jsonl, .csv, .parquet)."),
    out: Path | None = typer.Option(None, "--out", help="Run directory."),
    loss: str | None = typer.Option(
        None, "--loss", help="Training loss (default fkl; sft for text-only teachers)."
    ),
    task: str | None = typer.Option(
        None, "--task", help="Evaluation task: arith, text or a .jsonl file (default arith)."
    ),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="generate: most tokens per answer."),
    concurrency: int | None = typer.Option(None, "--concurrency", help="generate: requests in flight."),
    terms: str | None = typer.Option(None, "--terms", help="generate: the teacher's terms of use, recorded."),
    epochs: float | None = typer.Option(None, "--epochs", help="train: passes over the harvest."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="train: optimizer steps (over --epochs)."),
    lr: float | None = typer.Option(None, "--lr", help="train: peak learning rate."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="train: sequences per micro-batch."),
    kd_weight: float | None = typer.Option(None, "--kd-weight", help="train: W in (1-W)*CE + W*T^2*KD."),
    eval_n: int | None = typer.Option(None, "--eval-n", help="eval: task items to evaluate."),
    sets: list[str] = typer.Option([], "--set", help="Any stage option: STAGE.OPTION=VALUE (repeatable)."),
    until: str = typer.Option("eval", "--until", help="Last stage to run: generate, train or eval."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    from distillab.distill import resolve, run_distill

    if until not in ("generate", "train", "eval"):
        raise ConfigError(f"--until {until!r}: expected generate, train or eval")
    sections = _parse_sets(sets)
    stage_flags: dict[str, dict[str, Any]] = {
        "generate": {"max_tokens": max_tokens, "concurrency": concurrency, "terms": terms},
        "train": {
            "epochs": epochs,
            "max_steps": max_steps,
            "lr": lr,
            "batch_size": batch_size,
            "kd_weight": kd_weight,
        },
        "eval": {"n": eval_n},
    }
    for stage, values in stage_flags.items():
        given = {k: v for k, v in values.items() if v is not None}
        if given:
            sections[stage] = {**given, **sections.get(stage, {})}
    resolved = resolve(
        config,
        {
            "teacher": teacher,
            "student": student,
            "prompts": prompts,
            "out": out,
            "loss": loss,
            "task": task,
            **sections,
        },
    )
    result = run_distill(resolved, until=until, progress=progress)
    print(
        f"stages run: {', '.join(result.ran) or 'none'}; skipped (already done): "
        f"{', '.join(result.skipped) or 'none'}"
    )
    if result.report:
        from distillab.cli.eval import summary

        print(summary(result.report))
        print(f"report: {resolved.out / 'eval' / 'report.html'}")
