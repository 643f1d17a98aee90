"""``run_train(config)``: train a student on a harvest (or from a local teacher) -- setup, loop, save.

    result = run_train(TrainConfig(student=Path("runs/student"), data=Path("runs/harvest"),
                                   out=Path("runs/distilled"), loss="fkl"))

The loop is a plain ``accelerate`` loop, so the same code runs on one CPU, one GPU, or under
``accelerate launch`` (DDP; FSDP/DeepSpeed through accelerate's config): the ``Accelerator`` does
device placement, mixed precision, gradient accumulation and the gradient all-reduce. Why not the HF
``Trainer``: the per-batch work here (top-k targets, a teacher forward, on-policy sampling, exact
resume from a pure data order) is most of a training step, and would live in overrides anyway.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, set_seed
from rich.console import Console
from transformers import get_linear_schedule_with_warmup

from distillab import __version__
from distillab.train import checkpoint
from distillab.train.checkpoint import Progress
from distillab.train.collate import total_steps
from distillab.train.config import TrainConfig
from distillab.train.feed import Feed, evaluate
from distillab.train.model_card import write_card, write_provenance
from distillab.train.objective import Objective
from distillab.train.progress import TrainBar
from distillab.train.setup import Setup, prepare

MAX_GRAD_NORM = 1.0


@dataclass
class TrainResult:
    """What a run produced; ``record`` is the content of ``distillab_train.json``."""

    out: Path
    steps: int
    tokens: int
    train_loss: float
    eval: dict[str, float]
    seconds: float
    record: dict[str, Any]
    main_process: bool = True
    """False on the other processes of a multi-process run (they train too, but write nothing)."""


def use_bf16(config: TrainConfig) -> bool:
    """``--bf16`` as given, else on exactly where CUDA supports bf16 (CPU bf16 autocast is slow)."""
    if config.bf16 is not None:
        return config.bf16
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def run_train(config: TrainConfig, *, console: Console | None = None) -> TrainResult:
    """Train as ``config`` says; raises ``DistillabError``s for bad input, before any step runs."""
    console = console or Console(stderr=True)
    accelerator = Accelerator(
        gradient_accumulation_steps=config.grad_accum, mixed_precision="bf16" if use_bf16(config) else "no"
    )

    def say(text: str, style: str | None = None) -> None:
        if accelerator.is_main_process:
            console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    set_seed(config.seed)
    setup = prepare(config, accelerator.device, say)
    for warning in setup.warnings:
        say(f"warning: {warning}", "yellow")
    steps = total_steps(
        len(setup.train),
        epochs=config.epochs,
        max_steps=config.max_steps,
        size=config.batch_size,
        world=accelerator.num_processes,
        accum=config.grad_accum,
    )
    optimizer = torch.optim.AdamW([p for p in setup.model.parameters() if p.requires_grad], lr=config.lr)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
    model, optimizer = accelerator.prepare(setup.model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    progress = checkpoint.load(accelerator, config.out, config) if config.resume else Progress()
    if config.resume:
        say(f"resuming at step {progress.step} of {steps}")
    objective, accum = Objective(config, setup.cross), config.grad_accum
    feed = Feed(setup, config, accelerator, model)
    model.train()
    started, seconds_before, warned = time.perf_counter(), progress.seconds, False
    with TrainBar(console, steps, progress.step, config.progress and accelerator.is_main_process) as bar:
        while progress.step < steps:
            step_loss, step_tokens = torch.zeros((), device=accelerator.device), 0
            for micro in range(progress.step * accum, (progress.step + 1) * accum):
                batch, teacher_logits, on_policy = feed(micro)
                with accelerator.accumulate(model):
                    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
                    terms = objective(logits, batch, teacher_logits, on_policy)
                    accelerator.backward(terms.loss)
                    if accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
                    optimizer.step()
                    optimizer.zero_grad()
                step_loss += terms.loss.detach().float() / accum
                step_tokens += batch.tokens
            scheduler.step()
            loss, tokens = _across_processes(accelerator, step_loss, step_tokens)
            progress.add_step(loss, tokens, seconds_before + time.perf_counter() - started)
            bar.update(progress.step, loss, tokens)
            if objective.scale_warning and not warned:
                warned = True
                setup.warnings.append(objective.scale_warning)
                say(f"warning: {objective.scale_warning}", "yellow")
            if config.eval_every and progress.step % config.eval_every == 0 and progress.step < steps:
                progress.evals.append(
                    {
                        "step": progress.step,
                        **evaluate(model, setup.eval, objective, setup, accelerator, config.batch_size),
                    }
                )
            if config.save_every and progress.step % config.save_every == 0:
                checkpoint.save(accelerator, config.out, progress, config)
    final = evaluate(model, setup.eval, objective, setup, accelerator, config.batch_size)
    if final:
        progress.evals.append({"step": progress.step, **final})
    record = _record(config, setup, progress, final, accelerator, bar.tokens_per_second)
    _save(accelerator, model, setup, config, record)
    say(
        f"saved {config.out}: {progress.step} steps, {progress.tokens:,} tokens, "
        f"train loss {progress.train_loss:.4f}" + (f", eval loss {final['loss']:.4f}" if final else "")
    )
    return TrainResult(
        config.out,
        progress.step,
        progress.tokens,
        progress.train_loss,
        final,
        progress.seconds,
        record,
        accelerator.is_main_process,
    )


def _across_processes(accelerator: Accelerator, loss: torch.Tensor, tokens: int) -> tuple[float, int]:
    """This step's loss averaged and its token count summed over processes (one sync per step)."""
    both = torch.stack([loss.double(), torch.tensor(float(tokens), dtype=torch.float64, device=loss.device)])
    totals = accelerator.reduce(both, "sum")
    return float(totals[0]) / accelerator.num_processes, int(totals[1])


def _save(
    accelerator: Accelerator,
    model: torch.nn.Module,
    setup: Setup,
    config: TrainConfig,
    record: dict[str, Any],
) -> None:
    """The student as a plain HF model directory; with LoRA also the adapter, in ``OUT/adapter``."""
    accelerator.wait_for_everyone()
    # FSDP/DeepSpeed hold the weights sharded: the full state dict is gathered on every process.
    sharded = accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    state = accelerator.get_state_dict(model) if sharded and not config.lora_r else None
    if accelerator.is_main_process:
        out = config.out
        out.mkdir(parents=True, exist_ok=True)
        unwrapped: Any = accelerator.unwrap_model(model)
        if config.lora_r:
            unwrapped.save_pretrained(out / "adapter")
            unwrapped = unwrapped.merge_and_unload()  # every distillab command then loads it as a plain model
        unwrapped.to(setup.save_dtype)  # trained in fp32; saved in the student's own dtype
        if state is not None:
            state = {k: v.to(setup.save_dtype) if v.is_floating_point() else v for k, v in state.items()}
        unwrapped.save_pretrained(out, state_dict=state)
        setup.tokenizer.save_pretrained(out)
        write_provenance(out, record)
        write_card(out, record)
    accelerator.wait_for_everyone()


def _record(
    config: TrainConfig,
    setup: Setup,
    progress: Progress,
    final: dict[str, float],
    accelerator: Accelerator,
    tokens_per_second: float,
) -> dict[str, Any]:
    harvest, stats = setup.harvest, asdict(setup.stats)
    return {
        "distillab_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "teacher": {
            "name": harvest.teacher_name,
            "endpoint": harvest.teacher_endpoint,
            "capabilities": harvest.manifest.get("teacher", {}).get("capabilities"),
            "online": str(config.teacher) if config.teacher else None,
        },
        "dataset": {
            "path": str(config.data.resolve()),
            "manifest_sha256": harvest.manifest_sha256,
            "format_version": harvest.manifest.get("format_version"),
            "records": len(harvest.records),
            "signal": harvest.signal,
            "train_examples": len(setup.train),
            "eval_examples": len(setup.eval),
        },
        "loss": {
            "name": config.loss,
            "params": config.loss_params(),
            "temperature": config.temperature,
            "kd_weight": config.kd_weight if config.loss != "sft" and setup.cross != "sft" else 0.0,
            "signal": setup.signal,
            "cross_tokenizer": setup.cross,
        },
        "cross_tokenizer": asdict(setup.cross_stats) if setup.cross_stats else None,
        "encoding": stats,
        "steps": progress.step,
        "tokens_seen": progress.tokens,
        "train_loss": progress.train_loss,
        "eval": final,
        "eval_history": progress.evals,
        "seconds": progress.seconds,
        "tokens_per_second_last_run": tokens_per_second,
        "processes": accelerator.num_processes,
        "precision": "bf16" if use_bf16(config) else "fp32",
        "device": str(accelerator.device),
        "warnings": setup.warnings,
        "config": config.to_dict(),
    }
