"""The model layer's loading: a Hugging Face directory or a GGUF file (converted once, then cached)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers

from distillab.errors import ModelError
from distillab.models import Engine, EngineRequest, SamplingParams, convert_gguf, load_model, load_tokenizer


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLAB_CACHE", str(tmp_path / "cache"))


def test_a_gguf_file_loads_as_the_model_it_was_written_from(tiny_model_dir: Path, gguf_path: Path) -> None:
    original, tokenizer = load_model(tiny_model_dir, device="cpu")
    model, gguf_tokenizer = load_model(gguf_path, device="cpu")
    text = "Ann has 3 pens. She gets 4 more."
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert gguf_tokenizer(text)["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, original(ids).logits, atol=1e-5)
    # The same code path serves it: the engine generates from the GGUF path like from a directory.
    engine = Engine.load(gguf_path, device="cpu")
    request = EngineRequest(engine.encode_text(text), SamplingParams(max_tokens=5, temperature=0.0))
    plain = Engine(original, tokenizer).generate([EngineRequest(request.prompt_ids, request.params)])
    assert engine.generate([request])[0].samples[0].token_ids == plain[0].samples[0].token_ids


def test_a_gguf_file_is_converted_once_and_then_read_from_the_cache(
    gguf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = convert_gguf(gguf_path)
    assert (first / "config.json").is_file() and (first / "model.safetensors").is_file()
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".tmp-")]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    assert convert_gguf(gguf_path) == first
    assert len(load_tokenizer(gguf_path)) == len(load_tokenizer(first))


def test_unreadable_models_are_errors_that_name_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF but not really")
    with pytest.raises(ModelError, match=str(broken)):
        load_model(broken)
    assert (
        not any((tmp_path / "cache" / "gguf").glob("*")) if (tmp_path / "cache" / "gguf").exists() else True
    )
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "missing.gguf")
    with pytest.raises(ModelError, match="no config.json"):
        load_model(tmp_path)
