"""`distillab demo`: the whole contest (serve, attack, distill, detect, prove) on the tiny world, no
downloads, or with SmolLM2-135M-Instruct as the teacher (`--world smollm2`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from distillab.demo.config import DEFENSES, WORLD_SIZES, ContestConfig
from distillab.fields import default_of
from distillab.fields import help_of as _h

DEFAULT_OUT = Path("runs/demo")
DEFAULT_DEFENSES = ",".join(default_of(ContestConfig, "defenses"))
REAL_MODEL_HELP = _h(ContestConfig, "real_model")
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

--world smollm2 plays the same contest with a real instruct model: SmolLM2-135M-Instruct's 4-bit GGUF
(`make real-model`) as the teacher, questions about the standard library (`distillab prompts stdlib`,
held-out modules for every score and proof) as the task, students pruned from the teacher, and a campaign
whose accounts share no payment card, network or user agent and pace themselves like honest power users.
Its defaults fit about 30 minutes on 2 cores once its world is built.

Examples:

\b
  distillab demo                                        # rounds "off" and "detect+degrade"
  distillab demo --defense off,detect,detect+degrade    # all three defenses side by side
  distillab demo --out runs/quick --campaign-queries 600 --steps 200   # quicker, weaker students
  distillab demo --distill-only --prompts 3000          # only the distillation path (serve + distill)
  distillab demo --world smollm2 --out runs/demo-real   # the contest on SmolLM2-135M-Instruct
"""


def _sized(name: str, flag: str, minimum: int) -> Any:
    """An option whose default is the world's (`ContestConfig.for_world`)."""
    tiny = default_of(ContestConfig, name)
    real = WORLD_SIZES["smollm2"].get(name, tiny)
    return typer.Option(
        None,
        flag,
        min=minimum,
        show_default=False,
        help=f"{_h(ContestConfig, name)} [default: {tiny}; smollm2 world: {real}]",
    )


def demo(
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Directory for everything the demo writes."),
    world: str = typer.Option("tiny", "--world", help=_h(ContestConfig, "world")),
    real_model: Path | None = typer.Option(None, "--real-model", help=REAL_MODEL_HELP),
    defense: str | None = typer.Option(
        None,
        "--defense",
        show_default=False,
        help=f"{DEFENSE_HELP} [default: {DEFAULT_DEFENSES}; smollm2 world: "
        f"{','.join(WORLD_SIZES['smollm2']['defenses'])}]",
    ),
    campaign_queries: int | None = _sized("campaign_queries", "--campaign-queries", 1),
    campaign_accounts: int | None = _sized("campaign_accounts", "--campaign-accounts", 1),
    honest_requests: int | None = _sized("honest_requests", "--honest-requests", 0),
    steps: int | None = _sized("steps", "--steps", 1),
    eval_items: int | None = _sized("eval_items", "--eval-items", 1),
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
        # The contest's tiny-world sizes, as before --world existed.
        _distill_only(
            out,
            prompts,
            steps or default_of(ContestConfig, "steps"),
            eval_items or default_of(ContestConfig, "eval_items"),
        )
        return
    from distillab.demo.contest import run_contest

    given = {
        "defenses": (defense,) if defense is not None else None,
        "campaign_queries": campaign_queries,
        "campaign_accounts": campaign_accounts,
        "honest_requests": honest_requests,
        "steps": steps,
        "eval_items": eval_items,
        "real_model": real_model,
    }
    config = ContestConfig.for_world(
        world, out=out, seed=seed, **{k: v for k, v in given.items() if v is not None}
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
