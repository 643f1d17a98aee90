"""A randomly initialised student for any Hugging Face causal-LM teacher: same tokenizer, <= 1/4 the size.

The student is a Llama-architecture model that keeps what distillation needs from the teacher (the
tokenizer, vocabulary size and special-token ids, so logits line up position by position) and shrinks
the rest: half the layers (at least two), then the widest hidden size (a multiple of the teacher's
head size) whose parameter count stays within `max_ratio` of the teacher's. Nothing here looks at
whether the teacher is a toy model; the teacher's size is counted by building its own architecture on
the meta device.

    info = build_student(Path("runs/teacher"), Path("runs/student"))
    info["ratio"]   # student parameters / teacher parameters, <= max_ratio (0.25)

`tokenizer=` gives the student another tokenizer than the teacher's (its vocabulary and stop tokens),
for cross-tokenizer distillation, e.g. the tiny world's `toy.tokenizer.other_tokenizer()`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from distillab.errors import ModelError
from distillab.toy.models import count_parameters
from distillab.toy.tokenizer import END


def load_config(teacher_dir: Path) -> PretrainedConfig:
    if not (teacher_dir / "config.json").is_file():
        raise ModelError(f"{teacher_dir}: no config.json; expected a Hugging Face model directory")
    try:
        return AutoConfig.from_pretrained(teacher_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{teacher_dir / 'config.json'}: cannot be read as a model config ({exc})") from exc


def teacher_parameters(config: PretrainedConfig) -> int:
    """Parameters of the teacher's architecture, counted without allocating its weights."""
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"model type {config.model_type!r} is not a causal LM transformers can build ({exc})"
        ) from exc
    return count_parameters(model)


def teacher_generation_config(teacher_dir: Path, tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
    """The teacher's generation settings (stop tokens above all), for a student that answers like it."""
    try:
        return GenerationConfig.from_pretrained(teacher_dir)
    except OSError:  # no generation_config.json: stop on the tokenizer's end-of-sequence token
        return GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)


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


def student_config(teacher: PretrainedConfig, budget: int, vocab_size: int) -> LlamaConfig:
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


def _own_generation_config(tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
    """Stop on the tokenizer's end-of-sequence token and, where it has one, the tiny world's end-of-turn."""
    end = tokenizer.convert_tokens_to_ids(END)
    has_end = isinstance(end, int) and end != tokenizer.unk_token_id
    stops = [tokenizer.eos_token_id] + ([end] if has_end else [])
    return GenerationConfig(eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)


def build_student(
    teacher_dir: Path,
    out_dir: Path,
    *,
    seed: int = 0,
    max_ratio: float = 0.25,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> dict[str, Any]:
    """Write a random student for `teacher_dir` to `out_dir`; returns sizes and the parameter ratio.

    With `tokenizer`, the student uses it instead of the teacher's.
    """
    teacher_dir, out_dir = Path(teacher_dir), Path(out_dir)
    config = load_config(teacher_dir)
    own = tokenizer is not None
    if tokenizer is None:
        try:
            tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(
                f"{teacher_dir}: no usable tokenizer; the student reuses the teacher's ({exc})"
            ) from exc
    n_teacher = teacher_parameters(config)
    teacher_vocab = 0 if own else int(_field(config.get_text_config(), "vocab_size"))
    vocab = max(teacher_vocab, len(tokenizer))
    cfg = student_config(config, int(n_teacher * max_ratio), vocab)
    if own:  # the teacher's special-token ids mean nothing in another vocabulary
        cfg.bos_token_id, cfg.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
        cfg.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    n_student = count_parameters(model)
    assert n_student == llama_parameters(cfg), "llama_parameters is out of date with transformers"
    model.generation_config = (
        _own_generation_config(tokenizer) if own else teacher_generation_config(teacher_dir, tokenizer)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    info = {
        "kind": "student",
        "teacher": str(teacher_dir),
        "seed": seed,
        "parameters": n_student,
        "teacher_parameters": n_teacher,
        "ratio": n_student / n_teacher,
        "layers": cfg.num_hidden_layers,
        "hidden_size": cfg.hidden_size,
        "own_tokenizer": own,
    }
    (out_dir / "toy_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
