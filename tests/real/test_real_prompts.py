"""Prompt synthesis with a real instruct model (SmolLM2-135M-Instruct, a 4-bit GGUF): Magpie and
self-instruct write English requests, deduplicated, through the same code as the tiny world."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import py3langid
import pytest

from distillab.data.promptgen.config import SynthesizeConfig
from distillab.data.promptgen.filtering import jaccard, shingles
from distillab.data.promptgen.synthesize import run_synthesis

pytestmark = pytest.mark.real

SEEDS = [
    "How do I reverse a string in Python?",
    "Write a short poem about the sea.",
    "What are the health benefits of green tea?",
    "Explain the difference between weather and climate.",
    "Give me three tips for a job interview.",
    "What is the capital of Australia?",
]


def _texts(out: Path) -> list[str]:
    return [
        json.loads(line)["messages"][0]["content"]
        for line in (out / "prompts.jsonl").read_text().splitlines()
    ]


def _check(texts: list[str]) -> None:
    assert texts and all(t.strip() for t in texts)
    english = [t for t in texts if py3langid.classify(t)[0] == "en"]
    assert len(english) >= len(texts) / 2, texts
    assert all(jaccard(shingles(a), shingles(b)) < 0.7 for a, b in itertools.combinations(texts, 2))


def test_magpie_and_self_instruct_with_a_real_model(real_gguf: Path, tmp_path: Path) -> None:
    common = {"teacher": str(real_gguf), "temperature": 0.8, "seed": 0, "progress": False}
    magpie = run_synthesis(
        SynthesizeConfig(method="magpie", count=6, max_tokens=48, out=tmp_path / "magpie", **common)
    )
    prefix = json.loads((tmp_path / "magpie" / "manifest.json").read_text())["identity"]["prefix"]
    assert prefix.endswith("<|im_start|>user\n")  # derived from SmolLM2's own template
    texts = _texts(tmp_path / "magpie")
    _check(texts)
    assert any(t.rstrip().endswith("?") for t in texts), texts
    assert magpie.kept + sum(magpie.dropped.values()) == 6

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"s{i}", "prompt": s}) + "\n" for i, s in enumerate(SEEDS)))
    instruct = run_synthesis(
        SynthesizeConfig(
            method="self-instruct",
            seeds=seeds,
            count=4,
            examples=2,
            max_tokens=40,
            out=tmp_path / "si",
            **common,
        )
    )
    texts = _texts(tmp_path / "si")
    _check(texts)
    assert all(jaccard(shingles(t), shingles(s)) < 0.7 for t in texts for s in SEEDS)
    assert instruct.kept + sum(instruct.dropped.values()) == 4
