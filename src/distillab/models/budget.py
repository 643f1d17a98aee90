"""The shape of a student within a parameter budget: a tied-embedding Llama for any causal-LM teacher.

`budget_config(teacher_config, budget, vocab_size)` keeps what distillation needs from the teacher (its
vocabulary size and special-token ids, so logits line up position by position) and shrinks the rest:
half the layers (at least two), then the widest hidden size (a multiple of the teacher's head size)
whose parameter count stays within `budget`. It reads the teacher's shape through the field names of
any family (``hidden_size``/``n_embd``/``d_model``, ...), so a GPT-2 teacher gets a Llama student too.
Used by `random_init.random_student(..., max_ratio=R)`.
"""

from __future__ import annotations

from typing import Any

from transformers import LlamaConfig, PretrainedConfig

from distillab.errors import ModelError


def llama_parameters(cfg: LlamaConfig) -> int:
    """Exact parameter count of a LlamaForCausalLM with tied embeddings (checked after building)."""
    d, f = cfg.hidden_size, cfg.intermediate_size
    head_dim = cfg.head_dim or d // cfg.num_attention_heads
    kv_heads = cfg.num_key_value_heads or cfg.num_attention_heads
    attention = d * head_dim * (2 * cfg.num_attention_heads + 2 * kv_heads)
    layer = attention + 3 * d * f + 2 * d
    return cfg.vocab_size * d + cfg.num_hidden_layers * layer + d


def _field(config: PretrainedConfig, *names: str) -> Any:
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    raise ModelError(f"teacher config has none of the fields {', '.join(names)}")


def budget_config(teacher: PretrainedConfig, budget: int, vocab_size: int) -> LlamaConfig:
    """The deepest (up to half the teacher's layers), then widest Llama config within `budget` parameters."""
    text = teacher.get_text_config()
    hidden = int(_field(text, "hidden_size", "n_embd", "d_model"))
    layers = int(_field(text, "num_hidden_layers", "n_layer", "num_layers"))
    heads = int(_field(text, "num_attention_heads", "n_head", "num_heads"))
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    ffn = int(getattr(text, "intermediate_size", None) or getattr(text, "n_inner", None) or 4 * hidden)
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    group = max(1, heads // kv_heads)
    # Half the layers, but two if the teacher has two: one layer cannot copy from its context.
    for n_layers in range(max(min(2, layers), layers // 2), 0, -1):
        for width in range(hidden // 2 // head_dim * head_dim, 0, -head_dim):
            n_heads = width // head_dim
            cfg = LlamaConfig(
                vocab_size=vocab_size,
                hidden_size=width,
                intermediate_size=max(1, round(width * ffn / hidden)),
                num_hidden_layers=n_layers,
                num_attention_heads=n_heads,
                num_key_value_heads=n_heads // group if n_heads % group == 0 else n_heads,
                head_dim=head_dim,
                max_position_embeddings=int(getattr(text, "max_position_embeddings", None) or 2048),
                rms_norm_eps=1e-5,
                tie_word_embeddings=True,
                bos_token_id=getattr(text, "bos_token_id", None),
                eos_token_id=getattr(text, "eos_token_id", None),
                pad_token_id=getattr(text, "pad_token_id", None),
            )
            if llama_parameters(cfg) <= budget:
                return cfg
            # Slightly over: a narrower MLP (down to as wide as the model, in steps of 8) costs less
            # than halving the width, which is the next option.
            over = llama_parameters(cfg) - budget
            mlp = cfg.intermediate_size - -(-over // (3 * width * n_layers))
            mlp -= mlp % 8
            if mlp >= width:
                cfg.intermediate_size = mlp
                return cfg
    raise ModelError(
        f"no Llama student fits in {budget:,} parameters: the {vocab_size:,}-token embedding "
        "alone is too large for that budget"
    )
