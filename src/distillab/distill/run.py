"""`run_distill`: generate, train and eval as stages of one run directory, resumable stage by stage.

    OUT/config.yaml    the resolved configuration (defaults < config file < flags)
    OUT/stages.json    which stages finished, with the hash of the settings they ran with
    OUT/data/          the harvest (`distillab generate`)
    OUT/student/       the trained student (`distillab train`), checkpoints in OUT/student/checkpoints
    OUT/eval/          report.json and report.html (`distillab eval`)

A rerun skips every stage that finished with the same settings (and the stages before it). A stage
that was killed part-way resumes: the harvest from its journal, training from its last checkpoint,
evaluation from its stored answers. Changing a stage's settings reruns it and every stage after it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from distillab.atomic import write_text
from distillab.distill.config import STAGE_CONFIGS, STAGES, DistillConfig
from distillab.evaluate.result import EvalReport

STATE = "stages.json"
RUN_ONLY = {"progress", "resume", "save_every", "eval_every", "concurrency", "speed_requests"}
"""Settings that change how a stage runs, not what it produces: not part of its hash."""


@dataclass
class DistillResult:
    out: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    report: EvalReport | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def stage_hash(stage: str, settings: dict[str, Any], previous: str) -> str:
    """Hash of what a stage produces: its settings over the defaults (run-only ones left out) and the
    previous stage's hash."""
    full = {f.name: f.default for f in fields(STAGE_CONFIGS[stage])} | settings
    kept = {k: v for k, v in _jsonable(full).items() if k not in RUN_ONLY}
    blob = json.dumps({"settings": kept, "previous": previous}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _read_state(out: Path) -> dict[str, Any]:
    path = out / STATE
    return json.loads(path.read_text()) if path.is_file() else {}


def run_distill(
    config: DistillConfig,
    *,
    until: str = "eval",
    progress: bool = True,
    console: Console | None = None,
    on_stage_done: Callable[[str], None] | None = None,
) -> DistillResult:
    """Run the stages up to and including ``until``; ``on_stage_done(stage)`` after each one."""
    from distillab.data.harvest import run_harvest  # heavy imports only when a run starts
    from distillab.evaluate.run import run_eval
    from distillab.train.checkpoint import latest
    from distillab.train.trainer import run_train

    console = console or Console(stderr=True)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    state = _read_state(out)
    result = DistillResult(out)
    previous = ""
    for stage in STAGES[: STAGES.index(until) + 1]:
        digest = stage_hash(stage, config.stage_settings(stage), previous)
        previous = digest
        done = state.get(stage, {})
        if done.get("hash") == digest:
            console.print(f"[bold]{stage}[/]: done earlier with the same settings, skipped")
            result.skipped.append(stage)
            continue
        console.print(f"[bold]{stage}[/]: running")
        stage_started = time.monotonic()
        if stage == "generate":
            # New settings replace an older harvest in OUT/data; the same ones resume it.
            run_harvest(config.stage_config(stage, progress=progress, overwrite=True), console=console)
        elif stage == "train":
            student = config.out / "student"
            resume = done.get("started_hash") == digest and latest(student) is not None
            if student.exists() and not resume:
                shutil.rmtree(student)  # made with other settings, or killed before its first checkpoint
            save_every = config.train.get("save_every") or 200
            train_config = config.stage_config(stage, progress=progress, resume=resume, save_every=save_every)
            state["train"] = {"started_hash": digest}
            write_text(out / STATE, json.dumps(state, indent=2) + "\n")
            run_train(train_config, console=console)
        else:
            result.report = run_eval(config.stage_config(stage, progress=progress), console=console)
        state[stage] = {
            "hash": digest,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - stage_started, 1),
        }
        for later in STAGES[STAGES.index(stage) + 1 :]:
            state.pop(later, None)
        write_text(out / STATE, json.dumps(state, indent=2) + "\n")
        result.ran.append(stage)
        if on_stage_done:
            on_stage_done(stage)
    if result.report is None and (out / "eval" / "report.json").is_file() and "eval" in result.skipped:
        result.report = EvalReport.from_json(json.loads((out / "eval" / "report.json").read_text()))
    return result
