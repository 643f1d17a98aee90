"""`TrainConfig`: every option of `distillab train`, documented and validated in one place.

The CLI builds its flags' help and defaults from the field metadata here (``--kd-weight`` is
``kd_weight``), so the two cannot drift. All problems are collected and reported together in one
``ConfigError``. Checks that need the data or the models (does the dataset have what the loss needs? do
the tokenizers agree?) happen in ``distillab.train.setup``, still before any training step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f
from distillab.teacher import is_gguf_file

LOSS_NAMES = ("sft", "fkl", "rkl", "gjsd", "skl", "tv")
"""The keys of ``distillab.train.losses.LOSSES`` (a test keeps them equal), spelled out here so that
``distillab --help`` does not import torch."""

CROSS_METHODS = ("align", "uld", "sft")
"""What ``--cross-tokenizer`` picks (``distillab.train.xtok``), spelled out here for the same reason."""


@dataclass
class TrainConfig:
    """How to train which student on which harvest, and where to write it."""

    student: Path = _f(
        Path(), "Student model: a directory (Hugging Face layout, with its tokenizer) or a GGUF file."
    )
    data: Path = _f(Path(), "Harvest directory from `distillab generate` (manifest.json, data/*.parquet).")
    out: Path = _f(Path(), "Output directory: trained model, model card, distillab_train.json, checkpoints.")
    loss: str = _f(
        "sft",
        f"Loss: {', '.join(LOSS_NAMES)}. sft works on any data; the others need top-k "
        "log-probs in the harvest or --teacher.",
    )
    kd_weight: float = _f(0.5, "W in loss = (1 - W) * CE + W * T^2 * KD, in [0, 1]: 0 is SFT, 1 pure KD.")
    temperature: float = _f(1.0, "Distillation temperature T (> 0); the KD term is scaled by T^2.")
    beta: float = _f(0.5, "gjsd: teacher weight in the mixture, 0 = forward KL, 1 = reverse KL.")
    alpha: float = _f(0.1, "skl: teacher weight mixed into the student, 0 = forward KL.")
    lr: float = _f(5e-5, "Peak learning rate (AdamW; linear warmup, then linear decay to 0).")
    warmup_ratio: float = _f(0.03, "Fraction of the steps spent warming the learning rate up.")
    epochs: float = _f(1.0, "Passes over the training split (fractions allowed); ignored with --max-steps.")
    max_steps: int | None = _f(None, "Optimizer steps to run (overrides --epochs).")
    batch_size: int = _f(8, "Sequences per micro-batch, per process.")
    grad_accum: int = _f(1, "Micro-batches per optimizer step.")
    max_length: int = _f(1024, "Longest sequence (prompt + completion) in tokens; longer ones are cut.")
    seed: int = _f(0, "Seed for data order, eval split, initialisation of LoRA and on-policy sampling.")
    eval_fraction: float = _f(0.05, "Share of the harvest's prompts held out for eval loss (whole prompts).")
    eval_every: int = _f(0, "Compute eval loss every N steps (0: only at the end).")
    lora_r: int = _f(0, "LoRA rank (0: full fine-tuning). The adapter is saved in OUT/adapter and merged.")
    bf16: bool | None = _f(None, "bf16 mixed precision (default: on where CUDA supports bf16, else fp32).")
    chunk_size: int | None = _f(
        None, "Cross-entropy and full-vocab losses (--teacher): positions per chunk, bounds memory."
    )
    save_every: int = _f(0, "Write a resumable checkpoint every N steps to OUT/checkpoints (0: never).")
    resume: bool = _f(False, "Continue from the latest checkpoint in OUT/checkpoints (same config required).")
    teacher: Path | None = _f(
        None, "Local teacher (directory or GGUF file) for online distillation from full logits."
    )
    teacher_device: str | None = _f(None, "Device for --teacher (default: the student's).")
    teacher_dtype: str = _f(
        "auto", "dtype for --teacher: auto (bf16 on CUDA, fp32 on CPU), float32, bfloat16, float16."
    )
    on_policy: float = _f(
        0.0, "Share of batches where the student writes the completions and --teacher scores them."
    )
    max_new_tokens: int = _f(128, "On-policy: most tokens the student generates per prompt.")
    cross_tokenizer: str = _f(
        "align",
        "When the student's tokenizer is not the teacher's: align (token-level KD where tokens match "
        "one-to-one by byte span, span log-prob matching elsewhere), uld (sorted-probability L1, "
        "Boizard et al. 2024) or sft (text only).",
    )
    progress: bool = _f(True, "Show a progress bar.")

    def __post_init__(self) -> None:
        self.student, self.data, self.out = Path(self.student), Path(self.data), Path(self.out)
        self.teacher = None if self.teacher is None else Path(self.teacher)
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    def problems(self) -> list[str]:
        """Every invalid value or combination, each naming its flag."""
        p = Problems()
        need = p.need

        need(str(self.student) not in ("", "."), "--student is required (a model directory or GGUF file)")
        if str(self.student) not in ("", "."):
            need(*_model_on_disk("--student", self.student))
        need(str(self.data) not in ("", "."), "--data is required (a harvest directory)")
        need(str(self.out) not in ("", "."), "--out is required (a new directory)")
        need(not self.out.is_file(), f"--out {str(self.out)!r} is a file, not a directory")
        need(self.loss in LOSS_NAMES, f"--loss {self.loss!r} is not one of {', '.join(LOSS_NAMES)}")
        need(0.0 <= self.kd_weight <= 1.0, f"--kd-weight must be in [0, 1] (got {self.kd_weight})")
        need(self.temperature > 0, f"--temperature must be positive (got {self.temperature})")
        need(0.0 <= self.beta <= 1.0, f"--beta must be in [0, 1] (got {self.beta})")
        need(0.0 <= self.alpha <= 1.0, f"--alpha must be in [0, 1] (got {self.alpha})")
        need(self.lr > 0, f"--lr must be positive (got {self.lr})")
        need(0.0 <= self.warmup_ratio < 1.0, f"--warmup-ratio must be in [0, 1) (got {self.warmup_ratio})")
        need(self.epochs > 0, f"--epochs must be positive (got {self.epochs})")
        need(
            self.max_steps is None or self.max_steps >= 1,
            f"--max-steps must be at least 1 (got {self.max_steps})",
        )
        for flag, value in (
            ("--batch-size", self.batch_size),
            ("--grad-accum", self.grad_accum),
            ("--max-new-tokens", self.max_new_tokens),
        ):
            need(value >= 1, f"{flag} must be at least 1 (got {value})")
        need(self.max_length >= 8, f"--max-length must be at least 8 (got {self.max_length})")
        need(
            0.0 <= self.eval_fraction <= 0.5,
            f"--eval-fraction must be in [0, 0.5] (got {self.eval_fraction})",
        )
        for flag, value in (
            ("--eval-every", self.eval_every),
            ("--save-every", self.save_every),
            ("--lora-r", self.lora_r),
        ):
            need(value >= 0, f"{flag} must be 0 or more (got {value})")
        need(
            self.chunk_size is None or self.chunk_size >= 1,
            f"--chunk-size must be at least 1 (got {self.chunk_size})",
        )
        need(
            self.cross_tokenizer in CROSS_METHODS,
            f"--cross-tokenizer {self.cross_tokenizer!r} is not one of {', '.join(CROSS_METHODS)}",
        )
        need(0.0 <= self.on_policy <= 1.0, f"--on-policy must be in [0, 1] (got {self.on_policy})")
        if self.teacher is not None:
            need(*_model_on_disk("--teacher", self.teacher))
            need(
                self.loss != "sft",
                "--teacher gives full logits but --loss sft does not use them; "
                "pick a distillation loss (e.g. --loss fkl) or drop --teacher",
            )
        need(
            self.on_policy == 0.0 or self.teacher is not None,
            "--on-policy needs --teacher (a local model to score the student's own completions)",
        )
        need(
            self.teacher_dtype in ("auto", "float32", "bfloat16", "float16"),
            f"--teacher-dtype {self.teacher_dtype!r} is not one of auto, float32, bfloat16, float16",
        )
        if not self.resume and self.out.is_dir():
            taken = [
                name
                for name in ("checkpoints", "config.json", "distillab_train.json")
                if (self.out / name).exists()
            ]
            need(
                not taken,
                f"--out {str(self.out)!r} already holds a training run ({', '.join(taken)}); "
                "pass --resume to continue it or choose another --out",
            )
        if self.resume:
            need(
                (self.out / "checkpoints").is_dir(),
                f"--resume: {str(self.out / 'checkpoints')!r} does not "
                "exist; nothing to resume (run without --resume)",
            )
        return p

    def loss_params(self) -> dict[str, float]:
        """The keyword arguments the chosen loss takes besides temperature (beta, alpha or none)."""
        return {"gjsd": {"beta": self.beta}, "skl": {"alpha": self.alpha}}.get(self.loss, {})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (paths as strings), as recorded in distillab_train.json and checkpoints."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}


RUN_ONLY = ("resume", "progress", "save_every", "eval_every")
"""Fields that may differ between a run and its resumption: they do not change the weights."""


def _model_on_disk(flag: str, path: Path) -> tuple[bool, str]:
    """Whether `path` is a model as every command takes one (a Hugging Face directory or a GGUF file)."""
    if is_gguf_file(path):
        return True, ""
    return (
        (path / "config.json").is_file(),
        f"{flag} {str(path)!r}: no config.json (neither a Hugging Face model directory nor a GGUF file)",
    )
