"""Helpers for the training tests: teacher wrappers, a harvest through the real code path, closeness."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, PreTrainedModel

from distillab.data.config import HarvestConfig
from distillab.data.harvest import harvest as run_harvest_async
from distillab.teacher.base import Capabilities, Generation, PromptInput, SamplingParams
from distillab.teacher.local import LocalTeacher


def chat(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Ann has {i} pens. She gets {i % 7} more. How many now?"}]


class _Wrapped:
    """A local teacher dressed as an API that gives less: text only, or top-k as strings without ids."""

    def __init__(self, inner: LocalTeacher, mode: str):
        self.inner, self.mode = inner, mode
        self.name, self.endpoint = inner.name, inner.endpoint

    async def probe(self) -> Capabilities:
        return Capabilities(mode="text") if self.mode == "text" else Capabilities(mode="topk", top_k=20)

    async def generate(self, prompt: PromptInput, params: SamplingParams, n: int = 1) -> Generation:
        generation = await self.inner.generate(prompt, params, n)
        for sample in generation.samples:
            sample.token_ids = sample.top_ids = None
        return generation

    async def aclose(self) -> None:
        await self.inner.aclose()


def harvest(teacher_dir: Path, prompts: Path, out: Path, mode: str = "ids", **params: object) -> Path:
    """Harvest ``teacher_dir``'s answers to ``prompts`` into ``out`` with ``run_harvest``."""
    local = LocalTeacher.from_pretrained(teacher_dir, device="cpu")
    teacher = local if mode == "ids" else _Wrapped(local, mode)
    settings: dict[str, Any] = {"n": 2, "max_tokens": 14, "top_logprobs": 20, "seed": 0, **params}
    config = HarvestConfig(
        teacher=str(teacher_dir), prompts=prompts, out=out, progress=False, concurrency=64, **settings
    )

    async def run() -> None:
        try:
            await run_harvest_async(config, teacher=teacher, console=Console(quiet=True))
        finally:
            await local.aclose()

    asyncio.run(run())
    return out


@dataclass
class World:
    root: Path
    teacher: Path
    student: Path
    prompts: Path
    harvest: Path
    text_harvest: Path
    held_out: list[tuple[list[int], int]]
    """Teacher samples for prompts no harvest contains: (token ids, prompt length)."""

    def teacher_model(self) -> PreTrainedModel:
        return AutoModelForCausalLM.from_pretrained(self.teacher).eval()


@torch.no_grad()
def closeness(
    student: PreTrainedModel, teacher: PreTrainedModel, sequences: list[tuple[list[int], int]]
) -> tuple[float, float]:
    """(mean KL(teacher || student), top-1 agreement) over the completion positions of ``sequences``."""
    kls, agree, count = 0.0, 0, 0
    for ids, n_prompt in sequences:
        x = torch.tensor([ids])
        t = torch.log_softmax(teacher(x).logits[0, n_prompt - 1 : -1].float(), -1)
        s = torch.log_softmax(student(x).logits[0, n_prompt - 1 : -1].float(), -1)[:, : t.shape[-1]]
        kls += float((t.exp() * (t - s)).sum())
        agree += int((t.argmax(-1) == s.argmax(-1)).sum())
        count += t.shape[0]
    return kls / count, agree / count
