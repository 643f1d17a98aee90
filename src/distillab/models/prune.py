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

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from transformers import PreTrainedModel

from distillab.errors import ConfigError, ModelError
from distillab.models.load import load_model


@dataclass
class PruneResult:
    """What `prune_layers` wrote."""

    out: Path
    teacher: str
    kept: list[int]
    """Indices of the teacher's layers the student keeps, in order."""
    teacher_layers: int
    teacher_parameters: int
    student_parameters: int

    @property
    def ratio(self) -> float:
        return self.student_parameters / self.teacher_parameters

    def to_json(self) -> dict[str, object]:
        return {
            "out": str(self.out),
            "teacher": self.teacher,
            "kept_layers": self.kept,
            "teacher_layers": self.teacher_layers,
            "teacher_parameters": self.teacher_parameters,
            "student_parameters": self.student_parameters,
            "ratio": round(self.ratio, 4),
        }


def spread(total: int, keep: int) -> list[int]:
    """`keep` indices in range(total), evenly spaced, always including the first and the last."""
    if not 1 <= keep <= total:
        raise ConfigError(f"--layers must be between 1 and the teacher's {total} layers (got {keep})")
    if keep == 1:
        return [total - 1]
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def decoder_layers(model: PreTrainedModel) -> tuple[nn.Module, str, nn.ModuleList]:
    """The module holding the decoder layers, the attribute name, and the layers themselves."""
    base = model.base_model
    for name in ("layers", "h", "blocks"):
        layers = getattr(base, name, None)
        if isinstance(layers, nn.ModuleList):
            return base, name, layers
    raise ModelError(
        f"{type(model).__name__}: no decoder layer list found (looked for layers, h, blocks); "
        "depth pruning needs one nn.ModuleList of layers"
    )


def prune_layers(
    teacher: str | Path, out: str | Path, *, layers: int = 0, keep: list[int] | None = None
) -> PruneResult:
    """Write to `out` a student made of `keep` (or `layers` evenly spaced) of `teacher`'s layers."""
    out = Path(out)
    model, tokenizer = load_model(teacher, device="cpu", dtype="float32")
    parent, attribute, blocks = decoder_layers(model)
    total = len(blocks)
    teacher_parameters = sum(p.numel() for p in model.parameters())
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
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        result = PruneResult(
            out, str(teacher), kept, total, teacher_parameters, sum(p.numel() for p in model.parameters())
        )
        (tmp / "distillab_student.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
        check, _ = load_model(tmp, device="cpu")  # what we wrote must load back as the student
        if len(decoder_layers(check)[2]) != len(kept):
            raise ModelError(f"{out}: the saved student does not load back with {len(kept)} layers")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result
