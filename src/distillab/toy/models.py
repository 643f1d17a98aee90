"""Tiny decoder-only `transformers` models (Llama architecture) for the tiny world and for tests."""

from __future__ import annotations

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from distillab.toy.config import SIZES, ModelSize
from distillab.toy.tokenizer import END

__all__ = ["SIZES", "ModelSize", "build_model", "count_parameters"]


def build_model(tokenizer: PreTrainedTokenizerFast, size: ModelSize, seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised causal LM whose vocabulary and stop tokens match `tokenizer`."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.dim,
        intermediate_size=size.dim * 4,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=size.max_positions,
        rms_norm_eps=1e-5,
        tie_word_embeddings=size.tie_embeddings,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END)],
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
