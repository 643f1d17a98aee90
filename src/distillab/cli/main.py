"""The `distillab` command. Each command group lives in its own module; errors are caught once here."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from distillab import __version__
from distillab.errors import DistillabError

app = typer.Typer(
    name="distillab",
    help=(
        "Distill models, detect distillation campaigns, prove distillation.\n\n"
        "Examples:\n\n"
        "  distillab demo --out runs/demo\n\n"
        "  distillab toy teacher --task arith --out runs/teacher\n\n"
        "  distillab serve --model runs/teacher --port 8000\n\n"
        "  distillab generate --teacher http://127.0.0.1:8000/v1 --prompts prompts.jsonl "
        "--out runs/harvest\n\n"
        "  distillab distill --teacher runs/teacher --student runs/student "
        "--prompts prompts.jsonl --out runs/d\n\n"
        "  distillab serve --model runs/teacher --db gateway.db --rpm 60\n\n"
        "  distillab detect --log requests.jsonl --out runs/detect"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"distillab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Distill models, detect distillation campaigns, prove distillation."""


def _register() -> None:
    # Imported here so `distillab --help` stays fast: command modules import torch lazily.
    from distillab.cli import (
        demo,
        distill,
        eval,
        generate,
        keys,
        logs,
        score,
        serve,
        simulate,
        student,
        toy,
        train,
    )

    app.add_typer(toy.app, name="toy")
    app.add_typer(keys.app, name="keys")
    app.add_typer(logs.app, name="logs")
    app.command("serve", help=serve.HELP)(serve.serve)
    app.command("generate", help=generate.HELP)(generate.generate)
    app.command("score", help=score.HELP)(score.score)
    app.command("demo", help=demo.HELP)(demo.demo)
    app.command("train", help=train.HELP)(train.train)
    app.command("student", help=student.HELP)(student.student)
    app.command("eval", help=eval.HELP)(eval.eval_command)
    app.command("report", help=eval.REPORT_HELP)(eval.report_command)
    app.command("distill", help=distill.HELP)(distill.distill)
    app.command("simulate", help=simulate.HELP)(simulate.simulate)

    from distillab.cli import detect

    app.command("detect", help=detect.HELP)(detect.detect)

    from distillab.cli import indicators

    app.add_typer(indicators.app, name="indicators")

    from distillab.cli import prove

    app.add_typer(prove.app, name="prove")

    from distillab.cli import prompts

    app.add_typer(prompts.app, name="prompts")

    from distillab.cli import watermark

    app.add_typer(watermark.app, name="watermark")


_register()


def main() -> None:
    try:
        app()
    except DistillabError as exc:
        err_console.print(f"error: {exc}", style="bold red", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
