"""`distillab train`: train a student on a harvest, or online from a local teacher's logits."""

from __future__ import annotations

from pathlib import Path

import typer

from distillab.cli.options import option
from distillab.fields import help_of
from distillab.train.config import TrainConfig

HELP = """Train a student on a harvest written by `distillab generate` (or online from a local teacher).

Losses: sft (any data), fkl, rkl, gjsd, skl, tv (need the teacher's top-k log-probs in the harvest,
or --teacher for full logits). The objective is (1 - W) * CE + W * T^2 * KD with W = --kd-weight.
Writes a Hugging Face model directory, a model card (README.md) and distillab_train.json.

Examples:

\b
  distillab train --student runs/student --data runs/harvest --out runs/sft --loss sft
  distillab train --student runs/student --data runs/harvest --out runs/kd \\
      --loss fkl --kd-weight 0.5
  distillab train --student runs/student --data runs/harvest --out runs/gkd \\
      --loss gjsd --beta 0.5 --teacher runs/teacher --on-policy 0.5
  distillab train --student big-student --data runs/harvest --out runs/lora \\
      --loss fkl --lora-r 16 --save-every 500      # after a crash: same command + --resume
  accelerate launch -m distillab.cli.main train --student ... --data ... --out ... --loss fkl

See docs/train.md.
"""


def _opt(name: str, *flags: str) -> object:
    return option(TrainConfig, name, *flags)


def train(
    student: Path = typer.Option(..., "--student", help=help_of(TrainConfig, "student")),
    data: Path = typer.Option(..., "--data", help=help_of(TrainConfig, "data")),
    out: Path = typer.Option(..., "--out", help=help_of(TrainConfig, "out")),
    loss: str = _opt("loss", "--loss"),  # type: ignore[assignment]
    kd_weight: float = _opt("kd_weight", "--kd-weight"),  # type: ignore[assignment]
    temperature: float = _opt("temperature", "--temperature"),  # type: ignore[assignment]
    beta: float = _opt("beta", "--beta"),  # type: ignore[assignment]
    alpha: float = _opt("alpha", "--alpha"),  # type: ignore[assignment]
    lr: float = _opt("lr", "--lr"),  # type: ignore[assignment]
    warmup_ratio: float = _opt("warmup_ratio", "--warmup-ratio"),  # type: ignore[assignment]
    epochs: float = _opt("epochs", "--epochs"),  # type: ignore[assignment]
    max_steps: int | None = _opt("max_steps", "--max-steps"),  # type: ignore[assignment]
    batch_size: int = _opt("batch_size", "--batch-size"),  # type: ignore[assignment]
    grad_accum: int = _opt("grad_accum", "--grad-accum"),  # type: ignore[assignment]
    max_length: int = _opt("max_length", "--max-length"),  # type: ignore[assignment]
    seed: int = _opt("seed", "--seed"),  # type: ignore[assignment]
    eval_fraction: float = _opt("eval_fraction", "--eval-fraction"),  # type: ignore[assignment]
    eval_every: int = _opt("eval_every", "--eval-every"),  # type: ignore[assignment]
    lora_r: int = _opt("lora_r", "--lora-r"),  # type: ignore[assignment]
    bf16: bool | None = _opt("bf16", "--bf16/--no-bf16"),  # type: ignore[assignment]
    chunk_size: int | None = _opt("chunk_size", "--chunk-size"),  # type: ignore[assignment]
    save_every: int = _opt("save_every", "--save-every"),  # type: ignore[assignment]
    resume: bool = _opt("resume", "--resume"),  # type: ignore[assignment]
    teacher: Path | None = _opt("teacher", "--teacher"),  # type: ignore[assignment]
    teacher_device: str | None = _opt("teacher_device", "--teacher-device"),  # type: ignore[assignment]
    teacher_dtype: str = _opt("teacher_dtype", "--teacher-dtype"),  # type: ignore[assignment]
    on_policy: float = _opt("on_policy", "--on-policy"),  # type: ignore[assignment]
    max_new_tokens: int = _opt("max_new_tokens", "--max-new-tokens"),  # type: ignore[assignment]
    progress: bool = _opt("progress", "--progress/--no-progress"),  # type: ignore[assignment]
) -> None:
    from distillab.train.trainer import run_train  # keeps `distillab --help` fast (no torch import)

    config = TrainConfig(
        student=student,
        data=data,
        out=out,
        loss=loss,
        kd_weight=kd_weight,
        temperature=temperature,
        beta=beta,
        alpha=alpha,
        lr=lr,
        warmup_ratio=warmup_ratio,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=max_length,
        seed=seed,
        eval_fraction=eval_fraction,
        eval_every=eval_every,
        lora_r=lora_r,
        bf16=bf16,
        chunk_size=chunk_size,
        save_every=save_every,
        resume=resume,
        teacher=teacher,
        teacher_device=teacher_device,
        teacher_dtype=teacher_dtype,
        on_policy=on_policy,
        max_new_tokens=max_new_tokens,
        progress=progress,
    )
    result = run_train(config)
    if not result.main_process:
        return
    evaluation = f", eval loss {result.eval['loss']:.4f}" if result.eval else ""
    print(
        f"trained {result.steps} steps on {result.tokens:,} tokens in {result.seconds:.0f}s; "
        f"train loss {result.train_loss:.4f}{evaluation}; model in {result.out}"
    )
