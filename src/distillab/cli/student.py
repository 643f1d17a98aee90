"""`distillab student`: a student cut from a teacher by keeping some of its layers."""

from __future__ import annotations

import json

from rich.console import Console

from distillab.cli.from_config import from_config
from distillab.models.prune_config import PruneConfig

HELP = """Cut a student from a teacher by keeping some of its decoder layers (depth pruning).

The student keeps the teacher's tokenizer, embeddings and output head, and starts from the kept layers'
trained weights, so logit distillation (train --loss fkl) lines up token by token. Works for any
decoder-only Hugging Face model (Llama, Mistral, Qwen, GPT-2, ...) and for GGUF files. Writes a Hugging
Face model directory and distillab_student.json (kept layers, parameter counts).

Examples:

\b
  distillab student --teacher SmolLM2-135M-Instruct.Q4_1.gguf --layers 6 --out runs/student
  distillab student --teacher runs/teacher --keep 0,2,5 --out runs/student --force
  distillab train --student runs/student --data runs/harvest --out runs/kd --loss fkl
"""


@from_config(PruneConfig, required=("teacher", "out"))
def student(config: PruneConfig) -> None:
    from distillab.models.prune import prune_layers

    console = Console(stderr=True)
    result = prune_layers(config.teacher, config.out, layers=config.layers, keep=config.keep_indices or None)
    console.print(
        f"student: {len(result.kept)} of {result.teacher_layers} layers {result.kept}, "
        f"{result.student_parameters / 1e6:.1f}M parameters ({result.ratio:.0%} of the teacher) "
        f"-> {result.out}",
        markup=False,
        highlight=False,
    )
    print(json.dumps(result.to_json()))
