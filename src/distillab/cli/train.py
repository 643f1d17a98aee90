"""`distillab train`: train a student on a harvest, or online from a local teacher's logits."""

from __future__ import annotations

from distillab.cli.from_config import from_config
from distillab.train.config import TrainConfig

HELP = """Train a student on a harvest written by `distillab generate` (or online from a local teacher).

Losses: sft (any data), fkl, rkl, gjsd, skl, tv (need the teacher's top-k log-probs in the harvest,
or --teacher for full logits). The objective is (1 - W) * CE + W * T^2 * KD with W = --kd-weight.
Writes a Hugging Face model directory, a model card (README.md) and distillab_train.json.
A student whose tokenizer is not the teacher's is distilled across tokenizers (--cross-tokenizer
align, uld or sft; the run says which ran).

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


@from_config(TrainConfig, required=("student", "data", "out"))
def train(config: TrainConfig) -> None:
    from distillab.train.trainer import run_train  # keeps `distillab --help` fast (no torch import)

    result = run_train(config)
    if not result.main_process:
        return
    evaluation = f", eval loss {result.eval['loss']:.4f}" if result.eval else ""
    cross = result.record["loss"].get("cross_tokenizer")
    which = f"cross-tokenizer ({cross}): " if cross else ""
    print(
        f"{which}trained {result.steps} steps on {result.tokens:,} tokens in {result.seconds:.0f}s; "
        f"train loss {result.train_loss:.4f}{evaluation}; model in {result.out}"
    )
