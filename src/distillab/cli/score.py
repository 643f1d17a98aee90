"""`distillab score`: a teacher's log-probabilities on answers you already have."""

from __future__ import annotations

import dataclasses

from distillab.cli.from_config import from_config
from distillab.data.config import HarvestConfig

HELP = """Ask a teacher for its log-probabilities on given answers, into a harvest dataset (resumable).

Each row of --prompts holds 'messages' (or a raw 'prompt') and the 'completion' to score. The teacher
reads the completion under teacher forcing and returns, per completion token, its log-probability and
the top --top-logprobs alternatives: the stored teacher signal that `distillab train --loss fkl` reads,
for text you did not sample from the teacher (a dataset, another model's answers, human answers).

A model directory or .gguf file is scored in this process; a server needs echo and vLLM's /tokenize
(vLLM, `distillab serve`). Rerun the same command after an interruption to resume. Only score with
teachers whose terms allow it; record them with --terms.

Examples:

\b
  distillab score --teacher runs/teacher --prompts answers.jsonl --out runs/scored --top-logprobs 20
  distillab score --teacher http://127.0.0.1:8000/v1 --prompts answers.jsonl --out runs/scored
  distillab train --student runs/student --data runs/scored --out runs/kd --loss fkl
"""

SAMPLING = ("n", "n_per_request", "temperature", "top_p", "max_tokens", "stop", "seed", "score")
"""What scoring does not take: nothing is sampled."""


@from_config(HarvestConfig, required=("teacher", "prompts", "out"), skip=SAMPLING)
def score(config: HarvestConfig) -> None:
    from distillab.cli.generate import generate_with  # one path for harvests, sampled or scored

    generate_with(dataclasses.replace(config, score=True))
