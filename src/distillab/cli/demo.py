"""`distillab demo`: the whole contest on the tiny world (serve, attack, distill, detect, prove), no
downloads."""

from __future__ import annotations

from pathlib import Path

import typer

from distillab.demo.config import DEFENSES, ContestConfig
from distillab.fields import default_of
from distillab.fields import help_of as _h

DEFAULT_OUT = Path("runs/demo")
DEFAULT_DEFENSES = ",".join(default_of(ContestConfig, "defenses"))
DEFENSE_HELP = "Comma-separated defenses, one round each: " + ", ".join(DEFENSES) + "."

HELP = """Run the distillation contest end to end on the built-in tiny world (CPU, no downloads).

A provider serves its tiny teacher (the text task: stdlib docstring continuations) through
`distillab serve` (API keys, request log, watermark on); simulated honest users and a distillation
campaign (many accounts, each under the rate limit) query it over HTTP; the campaign's answers train
the attacker's student; the detector flags the campaign live and offline; radioactivity and
attribution tests ask whether the student came from the teacher, beside a control student that never
saw its answers. One round per --defense, compared in OUT/report.html (numbers in OUT/summary.json).
The first run also builds the tiny world into the cache (the text teacher, honest reference traffic,
the innocent students: several minutes on 2 cores); later runs reuse it, and a rerun into the same
OUT skips every finished step.

Examples:

\b
  distillab demo                                        # rounds "off" and "detect+degrade"
  distillab demo --defense off,detect,detect+degrade    # all three defenses side by side
  distillab demo --out runs/quick --campaign-queries 600 --steps 200   # quicker, weaker students
  distillab demo --distill-only --prompts 3000          # only the distillation path (serve + distill)
"""


def demo(
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Directory for everything the demo writes."),
    defense: str = typer.Option(DEFAULT_DEFENSES, "--defense", help=DEFENSE_HELP),
    campaign_queries: int = typer.Option(
        default_of(ContestConfig, "campaign_queries"),
        "--campaign-queries",
        min=1,
        help=_h(ContestConfig, "campaign_queries"),
    ),
    campaign_accounts: int = typer.Option(
        default_of(ContestConfig, "campaign_accounts"),
        "--campaign-accounts",
        min=1,
        help=_h(ContestConfig, "campaign_accounts"),
    ),
    honest_requests: int = typer.Option(
        default_of(ContestConfig, "honest_requests"),
        "--honest-requests",
        min=0,
        help=_h(ContestConfig, "honest_requests"),
    ),
    steps: int = typer.Option(
        default_of(ContestConfig, "steps"), "--steps", min=1, help=_h(ContestConfig, "steps")
    ),
    eval_items: int = typer.Option(
        default_of(ContestConfig, "eval_items"), "--eval-items", min=1, help=_h(ContestConfig, "eval_items")
    ),
    seed: int = typer.Option(0, "--seed", help=_h(ContestConfig, "seed")),
    distill_only: bool = typer.Option(
        False,
        "--distill-only",
        help="Run only the distillation path: serve the "
        "teacher, harvest, train and evaluate a student (no gateway, no contest).",
    ),
    prompts: int = typer.Option(
        3000, "--prompts", min=1, help="With --distill-only: arith prompts to harvest."
    ),
) -> None:
    if distill_only:
        _distill_only(out, prompts, steps, eval_items)
        return
    from distillab.demo.contest import run_contest

    config = ContestConfig(
        out=out,
        defenses=(defense,),
        campaign_queries=campaign_queries,
        campaign_accounts=campaign_accounts,
        honest_requests=honest_requests,
        steps=steps,
        eval_items=eval_items,
        seed=seed,
    )
    summary = run_contest(config)
    print(
        f"score: {summary.metric}. Teacher {_pct(summary.teacher.score)}; control student "
        f"{_pct(summary.control.score)}; untrained {_pct(summary.untrained_student_score)}"
    )
    for name, round_ in summary.rounds.items():
        metrics = round_.detect.metrics
        radio = next(iter(round_.proof.radioactivity), None)
        print(
            f"defense {name}: attacker's student {_pct(round_.student_score)} from "
            f"{round_.campaign.answered} answers ({round_.campaign.degraded} degraded); "
            f"flagged live {sum(f.campaign for f in round_.flags)}/{round_.campaign.accounts} "
            f"campaign accounts; offline recall {_pct(metrics.recall if metrics else None)}; radioactivity "
            f"p = {radio.p_value if radio else float('nan'):.2g}"
        )
    control_radio = next(iter(summary.control.proof.radioactivity), None)
    print(f"control student radioactivity p = {control_radio.p_value if control_radio else float('nan'):.2g}")
    print(f"demo finished in {summary.seconds:.0f}s; report: {summary.report}")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _distill_only(out: Path, prompts: int, steps: int, eval_items: int) -> None:
    from distillab.demo import DemoConfig, run_demo

    summary = run_demo(DemoConfig(out=out, prompts=prompts, steps=steps, eval_items=eval_items))
    print(
        f"teacher accuracy {_pct(summary.teacher_accuracy)}; student {_pct(summary.student_accuracy)} "
        f"(untrained {_pct(summary.untrained_student_accuracy)}); token agreement with the teacher "
        f"{_pct(summary.student_token_agreement)} (untrained "
        f"{_pct(summary.untrained_student_token_agreement)})"
    )
    print(f"demo finished in {summary.seconds:.0f}s from {summary.teacher_queries} teacher queries")
    print(f"report: {summary.report}")
