"""A randomly initialised student for a teacher: at a chosen shape, or the largest within a parameter budget.

    result = random_student("teacher.gguf", "runs/random", layers=4, hidden=256)   # heads: hidden / 64
    result = random_student("runs/teacher", "runs/student", max_ratio=0.25)        # <= 1/4 the parameters
    result.ratio      # student parameters / teacher parameters

The one way to make a student with no inherited weights (`distillab student --init random` and
`distillab toy student` both end here), and the comparison point for a depth-pruned student
(`prune.prune_layers`): same tokenizer and vocabulary as the teacher, so logit distillation lines up
token by token. Two ways to say its shape:

- explicit (`layers`, `hidden`, ...): the teacher's own architecture family. The teacher's config is
  copied and its shape fields replaced (hidden_size, intermediate_size, num_attention_heads,
  num_key_value_heads, num_hidden_layers, plus head_dim where the config has one), so any decoder-only
  config with those fields works (Llama, Mistral, Qwen, Gemma, ...); transformers then re-derives what
  depends on them (e.g. Qwen's per-layer attention types). A shape left at 0 follows the teacher: its
  hidden size; its head size (heads = hidden / head size); its heads per key/value head; its MLP width
  scaled by hidden / the teacher's hidden.
- `max_ratio`: a tied-embedding Llama of half the teacher's layers and the widest hidden size within
  `max_ratio` of the teacher's parameters (`budget.budget_config`), for any causal-LM teacher (GPT-2
  included).

`tokenizer=` gives the student another tokenizer than the teacher's (its vocabulary, special tokens and
stop tokens), for cross-tokenizer distillation, e.g. the tiny world's `toy.tokenizer.other_tokenizer()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    GenerationConfig,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from distillab.errors import ConfigError, ModelError
from distillab.fields import Problems
from distillab.models.budget import budget_config, llama_parameters
from distillab.models.load import load_tokenizer, model_dir
from distillab.models.student import StudentResult, write_student
from distillab.toy.models import count_parameters
from distillab.toy.tokenizer import END

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
    max_ratio: float | None = None,
    tokenizer: PreTrainedTokenizerBase | None = None,
    seed: int = 0,
) -> StudentResult:
    """Write to `out` a randomly initialised student of `teacher`: at the shape given, or the largest
    Llama within `max_ratio` of its parameters; with the teacher's tokenizer unless `tokenizer` is given."""
    source = model_dir(teacher)
    config = _load_config(source)
    explicit = {"layers": layers, "hidden": hidden, "heads": heads, "kv_heads": kv_heads}
    given = [name for name, value in {**explicit, "intermediate": intermediate}.items() if value]
    if max_ratio is not None:
        p = Problems()
        p.need(0 < max_ratio <= 1, f"--max-ratio: must be in (0, 1], got {max_ratio}")
        p.need(not given, f"--max-ratio picks the shape: not with {', '.join(given)}")
        if p:
            raise ConfigError(p)
    own = tokenizer is not None
    if tokenizer is None:
        tokenizer = load_tokenizer(source)
    n_teacher = _teacher_parameters(config)
    if max_ratio is not None:
        teacher_vocab = 0 if own else int(config.get_text_config().vocab_size)
        student_cfg: PretrainedConfig = budget_config(
            config, int(n_teacher * max_ratio), max(teacher_vocab, len(tokenizer))
        )
    else:
        student_cfg = student_config(
            config, _explicit_shape(source, config, **explicit, intermediate=intermediate)
        )
    if own:  # the teacher's vocabulary and special-token ids mean nothing to another tokenizer
        student_cfg.vocab_size = len(tokenizer)
        student_cfg.bos_token_id, student_cfg.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
        student_cfg.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    try:
        model = AutoModelForCausalLM.from_config(student_cfg, dtype=torch.float32)
        with torch.no_grad():  # a shape the architecture cannot run (e.g. an odd rotary head) fails here
            model(torch.zeros(1, 2, dtype=torch.long))
    except (ValueError, RuntimeError, TypeError) as exc:  # what building and running modules raise
        shape = {name: getattr(student_cfg, name, None) for name in SHAPE_FIELDS}
        raise ModelError(
            f"a {student_cfg.model_type} student of shape {shape} cannot be built: {exc}"
        ) from exc
    n_student = count_parameters(model)
    if isinstance(student_cfg, LlamaConfig) and max_ratio is not None:
        assert n_student == llama_parameters(student_cfg), "llama_parameters is out of date with transformers"
    model.generation_config = (
        _own_generation_config(tokenizer) if own else _teacher_generation_config(source, tokenizer)
    )
    result = StudentResult(
        out=Path(out),
        teacher=str(teacher),
        init="random",
        layers=int(student_cfg.num_hidden_layers),
        hidden_size=int(student_cfg.hidden_size),
        teacher_layers=int(config.get_text_config().num_hidden_layers),
        teacher_parameters=n_teacher,
        student_parameters=n_student,
        seed=seed,
        own_tokenizer=own,
    )
    write_student(model.eval(), tokenizer, result)
    return result


def _explicit_shape(
    source: Path,
    config: PretrainedConfig,
    *,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    intermediate: int,
) -> dict[str, int]:
    missing = [name for name in SHAPE_FIELDS if getattr(config, name, None) is None]
    if missing:
        raise ModelError(
            f"{source / 'config.json'}: a {config.model_type!r} config has no {', '.join(missing)}; a random "
            f"student is shaped through {', '.join(SHAPE_FIELDS)} (--init prune cuts any decoder-only model)"
        )
    return student_shape(
        config, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, intermediate=intermediate
    )


def _load_config(source: Path) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{source / 'config.json'}: cannot be read as a model config ({exc})") from exc


def _teacher_parameters(config: PretrainedConfig) -> int:
    """Parameters of the teacher's architecture, counted without allocating its weights."""
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"model type {config.model_type!r} is not a causal LM transformers can build ({exc})"
        ) from exc
    return count_parameters(model)


def _teacher_generation_config(teacher_dir: Path, tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
    """The teacher's generation settings (stop tokens above all), for a student that answers like it."""
    try:
        return GenerationConfig.from_pretrained(teacher_dir)
    except OSError:  # no generation_config.json: stop on the tokenizer's end-of-sequence token
        return GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)


def _own_generation_config(tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
    """Stop on the tokenizer's end-of-sequence token and, where it has one, the tiny world's end-of-turn."""
    end = tokenizer.convert_tokens_to_ids(END)
    has_end = isinstance(end, int) and end != tokenizer.unk_token_id
    stops = [tokenizer.eos_token_id] + ([end] if has_end else [])
    return GenerationConfig(eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
