"""What the attacker's harvest is worth: students trained on it (and on its first shares: the extraction
curve), and every model's score on held-out prompts (`ContestConfig.metric`).

    curve = extraction_curve(config, world, OUT / "round-off", True, console)  # student-NN/, eval-NN/
    score = evaluate(model, OUT / "eval", config, world, console)

Every step is skipped when its output is already there with the same settings, as in `round`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rich.console import Console

from distillab.atomic import write_text
from distillab.demo.config import ContestConfig
from distillab.demo.results import CurvePoint
from distillab.demo.world import World, cached, train_student


def extraction_curve(
    config: ContestConfig, world: World, where: Path, whole_curve: bool, console: Console
) -> list[CurvePoint]:
    """Train the attacker's student on the round's harvest in `where` (with `whole_curve`, also on its
    first `config.curve_points` shares) and score each; the full harvest's point comes last."""
    harvest = where / "harvest"
    curve: list[CurvePoint] = []
    shares = (*sorted(config.curve_points), 1.0) if whole_curve else (1.0,)
    for share in shares:
        tag = "" if share == 1.0 else f"-{round(share * 100):02d}"
        data = harvest if share == 1.0 else prefix_harvest(harvest, share, where / f"harvest{tag}")
        manifest = json.loads((data / "manifest.json").read_text())
        console.print(f"training the attacker's student on {manifest['counts']['records']} answers")
        # Every student makes the same number of passes over its data: a smaller harvest, fewer steps.
        steps = max(1, round(config.steps * share))
        student = train_student(
            data,
            world.student_init,
            where / f"student{tag}",
            steps=steps,
            seed=config.seed,
            loss="fkl",
            train=world.train,
            console=console,
        )
        score = evaluate(student, where / f"eval{tag}", config, world, console)
        curve.append(CurvePoint(share, manifest["counts"]["records"], score))
    return curve


def prefix_harvest(source: Path, share: float, out: Path) -> Path:
    """The first `share` of the records in `source` (arrival order) as a harvest of their own."""
    import pyarrow.parquet as pq

    from distillab.data.manifest import finish, read_manifest
    from distillab.data.records import data_files
    from distillab.data.store import DATA_FILE

    table = pq.read_table(data_files(source)[0])
    keep = max(1, round(table.num_rows * share))
    shutil.rmtree(out, ignore_errors=True)
    (out / DATA_FILE).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.slice(0, keep), out / DATA_FILE, compression="zstd")
    manifest = read_manifest(source)
    manifest["counts"] = dict(manifest.get("counts", {}), records=keep, prompts=keep)
    manifest["notices"] = [*manifest.get("notices", []), f"the first {keep} records of {source}"]
    finish(out, manifest)
    return out


def evaluate(model: Path, out: Path, config: ContestConfig, world: World, console: Console) -> float | None:
    """The model's score on held-out prompts (`ContestConfig.metric`): arith accuracy, or on the other
    tasks its held-out loss on reference answers as a share of the teacher's gain
    (`distillab.evaluate.reference`)."""
    trained = model / "distillab_train.json"
    settings = {
        "model": str(model),
        "task": config.task,
        "n": config.eval_items,
        "trained": trained.read_text() if trained.is_file() else None,
    }
    if config.task == "arith":
        from distillab.evaluate.config import EvalConfig
        from distillab.evaluate.run import run_eval

        cached(
            out,
            settings,
            lambda: run_eval(
                EvalConfig(
                    model=str(model),
                    out=out,
                    task=config.task,
                    n=config.eval_items,
                    max_tokens=64,
                    speed_requests=0,
                    progress=console.is_terminal,
                ),
                console=console,
            ),
            done="report.json",
        )
        from distillab.evaluate.result import EvalReport

        report = EvalReport.from_json(json.loads((out / "report.json").read_text()))
        return report.models["model"].accuracy
    from distillab.evaluate.reference import share_of_teacher

    bounds = reference_losses(config, world)
    cached(
        out / "score.json",
        settings,
        lambda: write_text(
            out / "score.json", json.dumps({"reference_loss": model_loss(model, config, world)}) + "\n"
        ),
        done="",
    )
    loss = json.loads((out / "score.json").read_text())["reference_loss"]
    return share_of_teacher(loss, bounds["untrained"], bounds["teacher"])


def model_loss(model: Path, config: ContestConfig, world: World) -> float:
    from distillab.evaluate.reference import reference_loss

    return reference_loss(model, world.task.rows("test", config.eval_items, config.seed + 11))


def reference_losses(config: ContestConfig, world: World) -> dict[str, float]:
    """The teacher's and the untrained student's held-out loss: the ends of the text task's score."""
    path = world.root / "reference-losses.json"
    cached(
        path,
        {
            "teacher": str(world.teacher),
            "init": str(world.student_init),
            "n": config.eval_items,
            "seed": config.seed,
        },
        lambda: write_text(
            path,
            json.dumps(
                {
                    "teacher": model_loss(world.teacher, config, world),
                    "untrained": model_loss(world.student_init, config, world),
                }
            )
            + "\n",
        ),
        done="",
    )
    return dict(json.loads(path.read_text()))
