"""`distillab generate`: harvest a teacher's answers (and log-probabilities) into a dataset."""

from __future__ import annotations

from distillab.cli.from_config import from_config
from distillab.data.config import HarvestConfig
from distillab.errors import TeacherError

HELP = """Harvest a teacher's answers to a prompt file into a Parquet dataset (resumable).

The teacher is a model directory or any OpenAI-compatible endpoint (vLLM, SGLang,
`transformers serve`, `distillab serve`, a hosted API). It is probed once for what it returns:
top-k log-probabilities (kept, compactly) or text only. Rerun the same command after an
interruption to resume; nothing already stored is asked again.

Only distill teachers whose terms of use allow it; record them with --terms.

Examples:

\b
  distillab generate --teacher http://127.0.0.1:8000/v1 --prompts prompts.jsonl --out runs/harvest
  distillab generate --teacher runs/teacher --prompts prompts.jsonl --out runs/harvest --n 4 --temperature 0.7
  distillab generate --teacher http://127.0.0.1:8000/v1 --prompts p.jsonl --out runs/h --dry-run

\b
A hosted API, within its published limits and a spending cap:
  OPENAI_API_KEY=... distillab generate --teacher https://api.example.com/v1 --model big-1 \\
    --prompts p.parquet --out runs/h --rpm 500 --tpm 200000 \\
    --price-in 0.5 --price-out 1.5 --budget-usd 20 \\
    --terms "provider terms of 2025-01, section 4, permit distillation"
"""


@from_config(HarvestConfig, required=("teacher", "prompts", "out"), skip=("score",))
def generate(config: HarvestConfig) -> None:
    generate_with(config)


def generate_with(config: HarvestConfig) -> None:
    """Run a harvest and report it (`distillab generate`, and `distillab score` with score=True)."""
    from distillab.data.harvest import run_harvest  # keeps `distillab --help` fast

    result = run_harvest(config)
    if result.estimate is not None:
        print(result.estimate.describe())
        return
    print(
        f"{result.records} records in {result.out} "
        f"({result.new_records} new, {result.skipped} already there); "
        f"tokens in {result.prompt_tokens}, out {result.completion_tokens}; cost ${result.cost_usd:.4f}"
    )
    if result.failed:
        raise TeacherError(
            f"{result.failed} prompts were rejected by the teacher (see failures in "
            f"{result.out / 'manifest.json'}); rerun the same command to retry them"
        )
