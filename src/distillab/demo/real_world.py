"""The contest's real world: SmolLM2-135M-Instruct as the provider's teacher.

The teacher is the 4-bit GGUF `make real-model` fetches, through its converted Hugging Face directory
(served by the same gateway, watermark on; numbers describe a dequantized 4-bit copy, not the upstream
model). The task is `distillab prompts stdlib`:
questions about the Python standard library with each docstring as the reference answer, split by module
(every fifth module held out for scores and proofs, `Task.rows`). Every student starts as the teacher
pruned to `PRUNED_LAYERS` of its 30 layers (`distillab student --layers`), and trains as
benchmarks/real_distill.py found works for it (lr 3e-4, batch 8). The campaign shares no metadata: its
accounts have their own cards, home networks, browsers and pace (`CampaignStyle`).

The world's pieces live in `$DISTILLAB_CACHE/toy/contest-KEY/` like the tiny world's, KEY from the GGUF's
name, size and the seed.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from distillab.demo.config import ContestConfig
from distillab.demo.traffic import POWER_USER_GAP_S, CampaignStyle
from distillab.demo.world import Task, World, cached, innocents

PRUNED_LAYERS = 6
"""Layers of the teacher's 30 every student keeps (evenly spaced, first and last included): 54M
parameters, the student benchmarks/real_distill.py measured."""
MAX_TOKENS = 48
"""Longest answer anyone asks SmolLM2 for: the first sentences of an explanation (at about 16 tokens/s
under load on 2 cores, every token of the campaign's answers is a minute per 1,000 queries)."""
STUDENT_TRAIN: dict[str, Any] = {
    "batch_size": 8,
    "lr": 3e-4,
    "eval_fraction": 0.0,
    "kd_weight": 1.0,
    "save_every": 10,
    "max_length": 160,
}
"""How every student of this world trains: a prompt (its chat template's system turn included) and a
48-token answer fit in 160 tokens; docstrings past that are cut."""


def build_smollm2(config: ContestConfig, console: Console) -> World:
    from distillab.data.promptgen.config import StdlibConfig
    from distillab.data.promptgen.stdlib import run_stdlib
    from distillab.models.load import model_dir
    from distillab.models.prune import prune_layers
    from distillab.toy.cache import cache_key, cache_root

    gguf = config.teacher_file.resolve()
    stamp = {"teacher": gguf.name, "bytes": gguf.stat().st_size, "seed": config.seed}
    root = cache_root() / f"contest-smollm2-{cache_key(stamp)}"
    root.mkdir(parents=True, exist_ok=True)
    # The GGUF's converted directory (made once, as every command that takes the GGUF does): the provenance
    # tests take model directories, and it is the very model `distillab serve --model GGUF` serves.
    teacher = model_dir(gguf)
    console.print(
        f"teacher: {gguf} (SmolLM2-135M-Instruct, 4-bit GGUF, as {teacher}); the rest of the world: {root}"
    )

    prompts = root / "stdlib"
    if cached(
        prompts,
        {"task": "stdlib"},
        lambda: run_stdlib(StdlibConfig(out=prompts)),
        done="manifest.json",
    ):
        console.print(f"the task: `distillab prompts stdlib` -> {prompts / 'prompts.jsonl'}")

    init = root / "student-init"
    cached(
        init,
        {"teacher": str(teacher), "layers": PRUNED_LAYERS},
        lambda: prune_layers(teacher, init, layers=PRUNED_LAYERS),
        done="config.json",
    )
    return innocents(
        config,
        console,
        World(
            name="smollm2",
            root=root,
            teacher=teacher,
            student_init=init,
            task=Task("stdlib", prompts / "prompts.jsonl"),
            model_name="smollm2-135m-instruct",
            max_tokens=MAX_TOKENS,
            campaign=CampaignStyle(shared_payments=False, own_networks=True, pause_s=POWER_USER_GAP_S),
            train=STUDENT_TRAIN,
        ),
    )
