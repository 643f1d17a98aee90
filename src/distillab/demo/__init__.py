"""`distillab demo`: the distillation path on the tiny world, end to end, on one CPU machine.

Stages (each reuses its output when it is already there, so a rerun is fast):
1. build or reuse the cached tiny arith teacher (`distillab toy teacher`);
2. write held-out prompts (`distillab toy prompts`);
3. serve the teacher with `distillab serve` on loopback, in its own process;
4. harvest its answers with top-k log-probabilities over HTTP (`distillab generate`);
5. check the harvested answers and summarise what was collected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.records import data_files, read_records
from distillab.serving.process import serve_process
from distillab.toy import arith
from distillab.toy.config import TeacherConfig
from distillab.toy.prompts import prompt_rows, write_rows
from distillab.toy.train_teacher import toy_teacher

TERMS = "Tiny-world teacher built locally by distillab; the user owns it and may distill it."


@dataclass(frozen=True)
class DemoConfig:
    """Size of the demo run."""

    out: Path = Path("runs/demo")
    prompts: int = 200
    """Held-out arith prompts to harvest."""
    samples: int = 1
    """Samples per prompt."""
    top_logprobs: int = 20
    concurrency: int = 16
    teacher: TeacherConfig = TeacherConfig(task="arith")


def run_demo(config: DemoConfig, console: Console | None = None) -> dict[str, Any]:
    """Run every stage; returns (and writes to OUT/summary.json) what happened, with numbers."""
    console = console or Console(stderr=True)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)

    console.rule("1. teacher")
    teacher_dir = toy_teacher(config.teacher)
    info = json.loads((teacher_dir / "toy_info.json").read_text())
    console.print(f"tiny arith teacher: {teacher_dir} (test accuracy {info.get('arith_accuracy', 'n/a')})")

    console.rule("2. prompts")
    rows = prompt_rows("arith", "test", config.prompts, seed=1)
    prompts = write_rows(rows, out / "prompts.jsonl")
    console.print(f"{len(rows)} held-out arith prompts: {prompts}")

    console.rule("3. serve and 4. harvest")
    with serve_process(teacher_dir, extra_args=("--model-name", "tiny-teacher"), log=out / "serve.log") as url:
        console.print(f"teacher served at {url} (log: {out / 'serve.log'})")
        result = run_harvest(HarvestConfig(
            teacher=url, prompts=prompts, out=out / "harvest", n=config.samples, temperature=1.0,
            max_tokens=96, top_logprobs=config.top_logprobs, concurrency=config.concurrency, terms=TERMS,
        ), console=console)

    console.rule("5. summary")
    summary = summarise(out / "harvest", rows, result.capabilities.describe() if result.capabilities else "")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    for key, value in summary.items():
        console.print(f"{key}: {value}", markup=False, highlight=False)
    return summary


def summarise(harvest_dir: Path, rows: list[dict[str, Any]], capabilities: str) -> dict[str, Any]:
    """Numbers about a harvest of arith prompts: accuracy of the teacher's sampled answers, signal size."""
    answers = {row["id"]: row["answer"] for row in rows}
    table = read_records(harvest_dir, columns=["prompt_id", "completion", "top_logprobs"]).to_pylist()
    correct = sum(arith.extract_answer(r["completion"]) == answers.get(r["prompt_id"]) for r in table)
    positions = sum(len(r["top_logprobs"] or []) for r in table)
    size = sum(f.stat().st_size for f in data_files(harvest_dir))
    manifest = json.loads((harvest_dir / "manifest.json").read_text())
    return {
        "records": len(table),
        "teacher_signal": capabilities,
        "teacher_sampled_accuracy": round(correct / max(len(table), 1), 4),
        "token_positions": positions,
        "bytes_per_token": round(size / positions, 1) if positions else None,
        "tokens": manifest.get("tokens"),
        "dataset": str(harvest_dir),
    }
