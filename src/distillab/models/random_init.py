"""A randomly initialised student of the teacher's architecture and tokenizer, at a chosen width and depth.

    info = random_student("teacher.gguf", "runs/random", layers=4, hidden=256)   # heads: hidden / 64
    info.ratio      # student parameters / teacher parameters

The comparison point for a depth-pruned student (`prune.prune_layers`): same tokenizer, vocabulary and
architecture family as the teacher (so logit distillation lines up token by token), but no inherited
weights. The teacher's config is copied and its five shape fields replaced (hidden_size,
intermediate_size, num_attention_heads, num_key_value_heads, num_hidden_layers, plus head_dim where the
config has one), so any decoder-only config with those fields works (Llama, Mistral, Qwen, Gemma, ...);
transformers then re-derives what depends on them (e.g. Qwen's per-layer attention types). A shape
left at 0 follows the teacher: its hidden size; its head size (heads = hidden / head size); its heads
per key/value head; its MLP width scaled by hidden / the teacher's hidden.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig

from distillab.errors import ConfigError, ModelError
from distillab.fields import Problems
from distillab.models.load import load_tokenizer, model_dir
from distillab.models.student import StudentResult, write_student
from distillab.toy.models import count_parameters
from distillab.toy.student import load_config, teacher_generation_config, teacher_parameters

SHAPE_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "num_hidden_layers",
)


def student_shape(
    teacher: PretrainedConfig, *, layers: int, hidden: int, heads: int, kv_heads: int, intermediate: int
) -> dict[str, int]:
    """The student's shape fields: the ones given (> 0), the rest following the teacher's proportions."""
    t = {name: int(getattr(teacher, name)) for name in SHAPE_FIELDS}
    t_head_dim = int(getattr(teacher, "head_dim", None) or t["hidden_size"] // t["num_attention_heads"])
    if min(layers, hidden, heads, kv_heads, intermediate) < 0:
        raise ConfigError("--layers, --hidden, --heads, --kv-heads and --intermediate must be >= 0")
    hidden = hidden or t["hidden_size"]
    if not heads and hidden != t["hidden_size"] and hidden % t_head_dim:
        raise ConfigError(
            f"--hidden {hidden} is not a multiple of the teacher's head size {t_head_dim}: give --heads"
        )
    heads = heads or (t["num_attention_heads"] if hidden == t["hidden_size"] else hidden // t_head_dim)
    group = t["num_attention_heads"] // t["num_key_value_heads"]
    kv_heads = kv_heads or (heads // group if heads % group == 0 else heads)
    p = Problems()
    p.need(hidden % heads == 0, f"--hidden {hidden} is not divisible by --heads {heads}")
    p.need(heads % kv_heads == 0, f"--heads {heads} is not a multiple of --kv-heads {kv_heads}")
    if p:
        raise ConfigError(p)
    return {
        "hidden_size": hidden,
        "intermediate_size": intermediate
        or max(1, round(t["intermediate_size"] * hidden / t["hidden_size"])),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "num_hidden_layers": layers or t["num_hidden_layers"],
    }


def student_config(teacher: PretrainedConfig, shape: dict[str, int]) -> PretrainedConfig:
    """The teacher's config with `shape`, rebuilt by its own class so that it validates and re-derives."""
    values: dict[str, Any] = teacher.to_dict()
    aliases = type(teacher).attribute_map  # e.g. hidden_size -> n_embd: set the field the config stores
    values.update({aliases.get(name, name): value for name, value in shape.items()})
    if "head_dim" in values:
        values["head_dim"] = shape["hidden_size"] // shape["num_attention_heads"]
    if "layer_types" in values:
        values["layer_types"] = None  # the config derives the pattern for its new depth
    try:
        return type(teacher).from_dict(values)
    except (
        Exception
    ) as exc:  # config validation raises ValueError, TypeError, huggingface_hub's StrictDataclassError
        raise ModelError(f"a {teacher.model_type} config of shape {shape} is invalid: {exc}") from exc


def random_student(
    teacher: str | Path,
    out: str | Path,
    *,
    layers: int = 0,
    hidden: int = 0,
    heads: int = 0,
    kv_heads: int = 0,
    intermediate: int = 0,
    seed: int = 0,
) -> StudentResult:
    """Write to `out` a randomly initialised student of `teacher`'s architecture and tokenizer."""
    source = model_dir(teacher)
    config = load_config(source)
    missing = [name for name in SHAPE_FIELDS if getattr(config, name, None) is None]
    if missing:
        raise ModelError(
            f"{source / 'config.json'}: a {config.model_type!r} config has no {', '.join(missing)}; a random "
            f"student is shaped through {', '.join(SHAPE_FIELDS)} (--init prune cuts any decoder-only model)"
        )
    shape = student_shape(
        config, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, intermediate=intermediate
    )
    tokenizer = load_tokenizer(source)
    torch.manual_seed(seed)
    try:
        model = AutoModelForCausalLM.from_config(student_config(config, shape), dtype=torch.float32)
        with torch.no_grad():  # a shape the architecture cannot run (e.g. an odd rotary head) fails here
            model(torch.zeros(1, 2, dtype=torch.long))
    except (ValueError, RuntimeError, TypeError) as exc:  # what building and running modules raise
        raise ModelError(f"a {config.model_type} student of shape {shape} cannot be built: {exc}") from exc
    model.generation_config = teacher_generation_config(source, tokenizer)
    result = StudentResult(
        out=Path(out),
        teacher=str(teacher),
        init="random",
        layers=shape["num_hidden_layers"],
        hidden_size=shape["hidden_size"],
        teacher_layers=int(config.num_hidden_layers),
        teacher_parameters=teacher_parameters(config),
        student_parameters=count_parameters(model),
        seed=seed,
    )
    write_student(model.eval(), tokenizer, result)
    return result
