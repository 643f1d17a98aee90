"""Completions of one model to a prompt file, sampled through the harvest machinery, grouped by prompt.

Sampling is harvesting, so the attribution test gets what `distillab generate` does for free: a model
directory or any OpenAI-compatible URL, concurrency, retries, and per-record resume (a killed run
re-asks only the missing samples). The samples live in ``OUT/samples/<role>/`` as an ordinary harvest
dataset, so the evidence behind a p-value can be inspected.

Samples are unseeded on purpose: a seeded server draws sample i of every prompt from the same random
numbers, which would tie the completions of different prompts together, and the test assumes that
every completion is drawn independently.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rich.console import Console

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.manifest import remove_harvest
from distillab.data.prompts import read_prompts
from distillab.data.records import prompt_key, read_records
from distillab.evaluate.answers import fingerprint


def sample(
    model: str,
    prompts: Path,
    out: Path,
    *,
    n: int,
    temperature: float,
    max_tokens: int,
    concurrency: int = 8,
    api_key_env: str = "OPENAI_API_KEY",
    max_retries: int = 6,
    timeout: float = 120.0,
    progress: bool = True,
    console: Console | None = None,
    terms: str = "attribution samples (distillab prove attribution)",
) -> dict[str, list[str]]:
    """``n`` completions of ``model`` to every prompt of ``prompts``, keyed by prompt id.

    Prompts the model rejected have fewer (or no) completions; the tests leave such prompts out.
    """
    # Stored samples are resumed only for the very same model: another model given the same role (or a
    # retrained one in the same directory) must be sampled afresh.
    stamp_file = out.parent / f"{out.name}.model"
    stamp = fingerprint(model)
    if out.exists() and (not stamp_file.is_file() or stamp_file.read_text() != stamp):
        remove_harvest(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(stamp)
    config = HarvestConfig(
        teacher=model,
        prompts=prompts,
        out=out,
        n=n,
        temperature=temperature,
        max_tokens=max_tokens,
        top_logprobs=0,
        seed=None,
        concurrency=concurrency,
        api_key_env=api_key_env,
        max_retries=max_retries,
        timeout=timeout,
        terms=terms,
        overwrite=True,
        progress=progress,
    )
    run_harvest(config, console=console)
    wanted = {prompt_key(row) for row in read_prompts(prompts)}
    grouped: dict[str, list[str]] = defaultdict(list)
    rows = read_records(out, columns=["prompt_id", "sample_index", "completion"]).to_pylist()
    # A rerun with fewer samples per prompt uses the first n stored ones, not all of them.
    for row in sorted(rows, key=lambda r: (r["prompt_id"], r["sample_index"])):
        if row["prompt_id"] in wanted and row["sample_index"] < n:
            grouped[row["prompt_id"]].append(row["completion"] or "")
    return dict(grouped)
