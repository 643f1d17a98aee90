"""A student cut from its teacher by keeping some of its layers (DistilBERT / Minitron-style depth pruning).

    info = prune_layers("teacher.gguf", "runs/student", layers=6)   # 6 of the teacher's layers, evenly spaced
    info.kept       # which teacher layers the student is made of, e.g. [0, 5, 11, 16, 22, 29]

The student keeps the teacher's tokenizer, embeddings, final norm and output head, and the chosen
decoder layers with their trained weights, so it starts close to the teacher and its logits line up
token id by token id (logit distillation needs the same vocabulary). The first and last layers are always
kept: the first reads the embeddings, the last writes what the head reads. Any decoder-only model whose
layers sit in one `nn.ModuleList` (Llama, Mistral, Qwen, Gemma, GPT-2, ...) works; a teacher given as a
GGUF file is converted once through `load_model`.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from distillab.errors import ConfigError
from distillab.models.load import load_model
from distillab.models.student import StudentResult, decoder_layers, write_student
from distillab.toy.models import count_parameters


def spread(total: int, keep: int) -> list[int]:
    """`keep` indices in range(total), evenly spaced, always including the first and the last."""
    if not 1 <= keep <= total:
        raise ConfigError(f"--layers must be between 1 and the teacher's {total} layers (got {keep})")
    if keep == 1:
        return [total - 1]
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def prune_layers(
    teacher: str | Path, out: str | Path, *, layers: int = 0, keep: list[int] | None = None
) -> StudentResult:
    """Write to `out` a student made of `keep` (or `layers` evenly spaced) of `teacher`'s layers."""
    model, tokenizer = load_model(teacher, device="cpu", dtype="float32")
    parent, attribute, blocks = decoder_layers(model)
    total = len(blocks)
    teacher_parameters = count_parameters(model)
    if keep:
        bad = [i for i in keep if not 0 <= i < total]
        if bad or len(set(keep)) != len(keep):
            raise ConfigError(f"--keep {keep}: indices must be distinct and in [0, {total})")
        kept = sorted(keep)
    else:
        kept = spread(total, layers)
    setattr(parent, attribute, nn.ModuleList([blocks[i] for i in kept]))
    for new, block in enumerate(getattr(parent, attribute)):
        for module in block.modules():  # the KV cache is indexed by each attention module's layer_idx
            if hasattr(module, "layer_idx"):
                module.layer_idx = new
    config = model.config
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        if hasattr(config, name):
            setattr(config, name, len(kept))
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) == total:
        config.layer_types = [layer_types[i] for i in kept]
    result = StudentResult(
        out=Path(out),
        teacher=str(teacher),
        init="prune",
        layers=len(kept),
        hidden_size=int(config.get_text_config().hidden_size),
        teacher_layers=total,
        teacher_parameters=teacher_parameters,
        student_parameters=count_parameters(model),
        kept=kept,
    )
    write_student(model, tokenizer, result)
    return result
