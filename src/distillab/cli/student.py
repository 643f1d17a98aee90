"""`distillab student`: a student cut from a teacher's layers, or a fresh random one of its architecture."""

from __future__ import annotations

import json

from rich.console import Console

from distillab.cli.from_config import from_config
from distillab.models.student_config import StudentConfig

HELP = """Make a student for a teacher: cut from its decoder layers (depth pruning), or random of its family.

--init prune (the default): the student keeps the teacher's tokenizer, embeddings and output head, and
starts from the kept layers' trained weights, so logit distillation (train --loss fkl) lines up token by
token. Works for any decoder-only Hugging Face model (Llama, Mistral, Qwen, GPT-2, ...) and for GGUF files.

--init random: a freshly initialised model of the teacher's architecture, tokenizer and vocabulary, at the
width and depth asked for (--layers, --hidden, --heads, --kv-heads, --intermediate; 0 follows the
teacher): the baseline a pruned student is compared with. Needs a config with hidden_size,
intermediate_size, num_attention_heads, num_key_value_heads and num_hidden_layers (Llama, Mistral, Qwen,
Gemma, ...).

Either way: a Hugging Face model directory plus distillab_student.json (how it was made, parameter counts,
ratio to the teacher).

Examples:

\b
  distillab student --teacher SmolLM2-135M-Instruct.Q4_1.gguf --layers 6 --out runs/student
  distillab student --teacher runs/teacher --keep 0,2,5 --out runs/student --force
  distillab student --teacher SmolLM2-135M-Instruct.Q4_1.gguf --init random --layers 4 --hidden 256 \\
      --out runs/random
  distillab train --student runs/student --data runs/harvest --out runs/kd --loss fkl
"""


@from_config(StudentConfig, required=("teacher", "out"))
def student(config: StudentConfig) -> None:
    if config.init == "random":
        from distillab.models.random_init import random_student

        result = random_student(
            config.teacher,
            config.out,
            layers=config.layers,
            hidden=config.hidden,
            heads=config.heads,
            kv_heads=config.kv_heads,
            intermediate=config.intermediate,
            seed=config.seed,
        )
    else:
        from distillab.models.prune import prune_layers

        result = prune_layers(
            config.teacher, config.out, layers=config.layers, keep=config.keep_indices or None
        )
    Console(stderr=True).print(result.summary(), markup=False, highlight=False)
    print(json.dumps(result.to_json()))
