"""`run_eval`: answer the task with every model, score, compare with the teacher, write the report.

from distillab.evaluate import EvalConfig, run_eval
report = run_eval(EvalConfig(model="runs/student", teacher="runs/teacher", task="arith", out="runs/eval"))
report.models["model"].accuracy, report.parity["model"].token.top1_agreement
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from distillab import __version__
from distillab.evaluate import efficiency
from distillab.evaluate.answers import answer
from distillab.evaluate.config import EvalConfig
from distillab.evaluate.parity import token_parity
from distillab.evaluate.reference import reference_loss, share_of_teacher
from distillab.evaluate.report import write_report
from distillab.evaluate.result import EvalReport, Example, HarvestInfo, ModelScore, Parity, TaskInfo, Training
from distillab.evaluate.tasks import Task, load_task
from distillab.teacher import is_url

FORMAT_VERSION = 1
EXAMPLES = 5


def _roles(config: EvalConfig) -> dict[str, str]:
    roles = {"model": config.model, "teacher": config.teacher, "baseline": config.baseline}
    return {role: model for role, model in roles.items() if model}


def _score(task: Task, model: str, answers: dict[str, dict[str, Any]]) -> ModelScore:
    answered = [item for item in task.items if item.id in answers]
    if task.checker is None:
        return ModelScore(model, None, None, len(answered), efficiency.size(model))
    correct = sum(task.checker.check(answers[i.id]["completion"] or "", i.answer or "") for i in answered)
    return ModelScore(model, correct / len(task.items), correct, len(answered), efficiency.size(model))


def _answer_agreement(task: Task, a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> float | None:
    extract = task.checker.extract if task.checker else None
    if extract is None:
        return None
    same = [
        extract(a[i.id]["completion"] or "") == extract(b[i.id]["completion"] or "")
        for i in task.items
        if i.id in a and i.id in b
    ]
    return sum(same) / len(same) if same else None


def _training(model: str) -> Training | None:
    """What `distillab train` recorded about a model directory, if it made it."""
    path = Path(model) / "distillab_train.json"
    if is_url(model) or not path.is_file():
        return None
    record = json.loads(path.read_text())
    return Training(
        loss=record["loss"]["name"],
        kd_weight=record["loss"].get("kd_weight"),
        steps=record.get("steps"),
        tokens_seen=record.get("tokens_seen"),
        seconds=record.get("seconds"),
        dataset=record["dataset"].get("path"),
        manifest_sha256=record["dataset"].get("manifest_sha256"),
    )


def _harvest(data: Path | None) -> HarvestInfo | None:
    """Queries, tokens and cost of the harvest the model learned from (its manifest)."""
    if data is None or not (data / "manifest.json").is_file():
        return None
    manifest = json.loads((data / "manifest.json").read_text())
    teacher = manifest.get("teacher", {})
    return HarvestInfo(
        path=str(data),
        teacher=teacher.get("name"),
        endpoint=teacher.get("endpoint"),
        signal=manifest.get("identity", {}).get("signal"),
        queries=manifest.get("counts", {}).get("prompts"),
        records=manifest.get("counts", {}).get("records"),
        prompt_tokens=manifest.get("tokens", {}).get("prompt"),
        completion_tokens=manifest.get("tokens", {}).get("completion"),
        cost_usd=manifest.get("cost", {}).get("usd"),
        terms=manifest.get("terms"),
    )


def _share(models: dict[str, ModelScore], role: str) -> float | None:
    """The model's share of the teacher's reference-loss gain over the baseline (see `reference`)."""
    if role != "model" or "baseline" not in models:
        return None
    loss, untrained, teacher = (models[r].reference_loss for r in ("model", "baseline", "teacher"))
    if loss is None or untrained is None or teacher is None:
        return None
    return share_of_teacher(loss, untrained, teacher)


def _prompt_text(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)


def run_eval(config: EvalConfig, *, console: Console | None = None) -> EvalReport:
    """Evaluate, write ``report.json`` and ``report.html`` into ``config.out``, return the report."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    task = load_task(config.task, n=config.n, seed=config.seed, checker=config.checker)
    roles = _roles(config)
    answers: dict[str, dict[str, dict[str, Any]]] = {}
    models: dict[str, ModelScore] = {}
    for role, model in roles.items():
        console.print(f"[bold]{role}[/]: answering {len(task.items)} {task.name} items with {model}")
        keep = config.top_logprobs if role == "teacher" else 0
        got = answer(
            model,
            task,
            config.out / "answers" / role,
            max_tokens=config.max_tokens,
            top_logprobs=keep,
            concurrency=config.concurrency,
            api_key_env=config.api_key_env,
            progress=config.progress,
            console=console,
        )
        answers[role] = {i.id: got[i.id] for i in task.items if i.id in got}
        models[role] = _score(task, model, answers[role])
        if config.speed_requests:
            prompts = [item.input for item in task.items[: config.speed_requests]]
            models[role].speed = efficiency.speed(
                model, prompts, max_tokens=config.max_tokens, api_key_env=config.api_key_env
            )
        references = task.reference_rows()
        if references and not is_url(model):
            models[role].reference_loss = reference_loss(Path(model), references)
    parity: dict[str, Parity] = {}
    if "teacher" in answers:
        teacher_records = [answers["teacher"][i.id] for i in task.items if i.id in answers["teacher"]]
        teacher_accuracy = models["teacher"].accuracy
        for role in ("model", "baseline"):
            if role not in answers:
                continue
            accuracy = models[role].accuracy
            parity[role] = Parity(
                answer_agreement=_answer_agreement(task, answers[role], answers["teacher"]),
                accuracy_ratio=accuracy / teacher_accuracy
                if accuracy is not None and teacher_accuracy
                else None,
                token=token_parity(Path(roles[role]), teacher_records) if not is_url(roles[role]) else None,
                share_of_teacher=_share(models, role),
            )
    training = _training(config.model)
    data = config.data or (Path(training.dataset) if training and training.dataset else None)
    report = EvalReport(
        format_version=FORMAT_VERSION,
        distillab_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        task=TaskInfo(
            name=config.task if task.name in ("arith", "text") else str(config.task),
            items=len(task.items),
            checker=task.checker.name if task.checker else None,
        ),
        models=models,
        parity=parity,
        training=training,
        harvest=_harvest(data),
        examples=[
            Example(
                id=item.id,
                prompt=_prompt_text(item.input),
                answer=item.answer,
                completions={role: answers[role].get(item.id, {}).get("completion") for role in answers},
            )
            for item in task.items[:EXAMPLES]
        ],
        seconds=round(time.monotonic() - started, 1),
    )
    write_report(report.to_json(), config.out)
    return report
