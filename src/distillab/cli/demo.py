"""`distillab demo`: the tiny world's distillation path end to end, no downloads."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = """Run distillab end to end on the built-in tiny world (CPU, no downloads).

Builds (or reuses) the tiny arith teacher, serves it with `distillab serve` on loopback, harvests its
answers with top-20 log-probabilities over HTTP, and prints what was collected. The first run trains the
teacher (a few minutes on 2 cores); later runs reuse the cached one.

Examples:

\b
  distillab demo
  distillab demo --out runs/demo --prompts 50
"""


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Directory for everything the demo writes."),
    prompts: int = typer.Option(200, "--prompts", min=1, help="Held-out arith prompts to harvest."),
    samples: int = typer.Option(1, "--samples", min=1, help="Teacher samples per prompt."),
) -> None:
    from distillab.demo import DemoConfig, run_demo

    summary = run_demo(DemoConfig(out=out, prompts=prompts, samples=samples))
    print(f"demo finished: {summary['records']} records in {summary['dataset']}; summary in {out / 'summary.json'}")
