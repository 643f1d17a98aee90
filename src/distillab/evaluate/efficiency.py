"""What a model costs to keep and to run: parameters, bytes on disk, generation speed on this machine.

Speed is measured the way a user meets it: one request at a time through the same teacher interface
the harvest uses (a local directory is loaded in-process; a URL is called over HTTP), greedy, after one
warm-up request. Latency is per request; tokens/s is completion tokens over the summed latencies.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from safetensors import safe_open

from distillab.evaluate.result import Size, Speed
from distillab.teacher import is_url, load_teacher
from distillab.teacher.base import PromptInput, SamplingParams

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def size(model: str) -> Size:
    """Parameter count (from safetensors headers, nothing loaded) and weight bytes of a model directory;
    for a GGUF file, its converted copy's parameters and the file's own bytes (quantized, as kept)."""
    if is_url(model):
        return Size(None, None)
    path = Path(model)
    if path.is_file():
        from distillab.models.load import model_dir  # the GGUF's converted copy (cached)

        return Size(size(str(model_dir(path))).parameters, path.stat().st_size)
    weights = [f for f in sorted(path.iterdir()) if f.is_file() and f.suffix in WEIGHT_SUFFIXES]
    parameters = 0
    for file in weights:
        if file.suffix == ".safetensors":
            with safe_open(str(file), framework="pt") as handle:
                for name in handle.keys():
                    shape = handle.get_slice(name).get_shape()
                    count = 1
                    for dim in shape:
                        count *= dim
                    parameters += count
    return Size(parameters or None, sum(f.stat().st_size for f in weights))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return float(statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1])


def speed(
    model: str, prompts: list[PromptInput], *, max_tokens: int, api_key_env: str = "OPENAI_API_KEY"
) -> Speed:
    """Sequential greedy generation over ``prompts``: tokens/s and latency p50/p95 in milliseconds."""
    return asyncio.run(_speed(model, prompts, max_tokens=max_tokens, api_key_env=api_key_env))


async def _speed(model: str, prompts: list[PromptInput], *, max_tokens: int, api_key_env: str) -> Speed:
    teacher = load_teacher(model, api_key_env=api_key_env)
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, logprobs=False, seed=0)
    latencies: list[float] = []
    tokens = 0
    try:
        if prompts:
            await teacher.generate(prompts[0], params)  # warm-up: first-call costs are not speed
        for prompt in prompts:
            started = time.perf_counter()
            generation = await teacher.generate(prompt, params)
            latencies.append(time.perf_counter() - started)
            tokens += generation.completion_tokens
    finally:
        await teacher.aclose()
    if not latencies:
        return Speed(0, None, None, None, None)
    return Speed(
        requests=len(latencies),
        completion_tokens=tokens,
        tokens_per_s=tokens / sum(latencies),
        latency_ms_p50=1000 * percentile(latencies, 50),
        latency_ms_p95=1000 * percentile(latencies, 95),
    )
