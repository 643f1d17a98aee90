"""What every way of making a student shares: its result, its metadata file, and writing it whole.

A student directory is a Hugging Face model directory (weights, config, the teacher's tokenizer) plus
`distillab_student.json`: how it was made (`init`), from which teacher, its shape and its parameter
count against the teacher's. `prune.prune_layers` and `random_init.random_student` both end in
`write_student`, which builds the directory beside `out` and renames it into place only once it loads
back, so a failure leaves no half-written student.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distillab.errors import ModelError
from distillab.models.load import load_model

METADATA = "distillab_student.json"


@dataclass
class StudentResult:
    """What was written to `out`, as recorded in its `distillab_student.json`."""

    out: Path
    teacher: str
    init: Literal["prune", "random"]
    layers: int
    hidden_size: int
    teacher_layers: int
    teacher_parameters: int
    student_parameters: int
    kept: list[int] | None = None
    """prune: indices of the teacher's layers the student is made of, in order."""
    seed: int | None = None
    """random: the seed of the initial weights."""
    own_tokenizer: bool = False
    """random: the student has another tokenizer than the teacher's (cross-tokenizer distillation)."""

    @property
    def ratio(self) -> float:
        return self.student_parameters / self.teacher_parameters

    def to_json(self) -> dict[str, object]:
        made: dict[str, object] = (
            {"kept_layers": self.kept}
            if self.init == "prune"
            else {"seed": self.seed, "own_tokenizer": self.own_tokenizer}
        )
        return {
            "out": str(self.out),
            "teacher": self.teacher,
            "init": self.init,
            **made,
            "layers": self.layers,
            "hidden_size": self.hidden_size,
            "teacher_layers": self.teacher_layers,
            "teacher_parameters": self.teacher_parameters,
            "student_parameters": self.student_parameters,
            "ratio": round(self.ratio, 4),
        }

    def summary(self) -> str:
        """One line for a person: how the student was made, its size against the teacher's, where."""
        made = (
            f"{self.layers} of {self.teacher_layers} layers {self.kept}"
            if self.init == "prune"
            else f"random, {self.layers} layers x {self.hidden_size} wide (seed {self.seed})"
        )
        return (
            f"student: {made}, {self.student_parameters / 1e6:.1f}M parameters "
            f"({self.ratio:.0%} of the teacher) -> {self.out}"
        )


def decoder_layers(model: PreTrainedModel) -> tuple[nn.Module, str, nn.ModuleList]:
    """The module holding the decoder layers, the attribute name, and the layers themselves."""
    base = model.base_model
    for name in ("layers", "h", "blocks"):
        layers = getattr(base, name, None)
        if isinstance(layers, nn.ModuleList):
            return base, name, layers
    raise ModelError(
        f"{type(model).__name__}: no decoder layer list found (looked for layers, h, blocks); "
        "a student is cut or built as one nn.ModuleList of layers"
    )


def write_student(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, result: StudentResult) -> None:
    """Save `model`, `tokenizer` and `result`'s metadata to `result.out`, replacing what was there."""
    out = result.out
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / METADATA).write_text(json.dumps(result.to_json(), indent=2) + "\n")
        check, _ = load_model(tmp, device="cpu")  # what we wrote must load back as the student
        if len(decoder_layers(check)[2]) != result.layers:
            raise ModelError(f"{out}: the saved student does not load back with {result.layers} layers")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
