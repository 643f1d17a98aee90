"""`StudentConfig`: the options of `distillab student`, kept apart so the CLI loads without torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f

INITS = ("prune", "random")


@dataclass
class StudentConfig:
    """Which teacher to make a student from, how (cut or random), its shape, and where to write it."""

    teacher: Path = _f(Path(), "Teacher: a Hugging Face model directory or a GGUF file.")
    out: Path = _f(Path(), "Directory to write the student to (new or empty, or --force).")
    init: str = _f(
        "prune",
        "prune: keep some of the teacher's layers with their trained weights; random: a freshly initialised "
        "model of the teacher's architecture and tokenizer, shaped by --layers/--hidden/--heads.",
    )
    layers: int = _f(
        0,
        "prune: how many of the teacher's layers to keep, evenly spaced (first and last always). "
        "random: how many layers (0: the teacher's).",
    )
    keep: str = _f(
        "", "prune: exactly which layers to keep instead, comma-separated 0-based indices (e.g. 0,4,8,11)."
    )
    hidden: int = _f(0, "random: hidden size (0: the teacher's).")
    heads: int = _f(0, "random: attention heads (0: hidden / the teacher's head size).")
    kv_heads: int = _f(
        0,
        "random: key/value heads (0: as many query heads per key/value head as the teacher, if they divide).",
    )
    intermediate: int = _f(
        0, "random: MLP width (0: the teacher's, scaled by hidden / the teacher's hidden)."
    )
    seed: int = _f(0, "random: seed of the initial weights.")
    force: bool = _f(False, "Replace --out if it exists and is not empty.")

    def __post_init__(self) -> None:
        p = Problems()
        p.need(str(self.teacher) not in ("", "."), "--teacher is required (a model directory or GGUF file)")
        p.need(str(self.out) not in ("", "."), "--out is required (a new directory)")
        p.need(self.init in INITS, f"--init {self.init!r}: one of {', '.join(INITS)}")
        shape = {  # checked against each other and the teacher by random_init.student_shape
            "--hidden": self.hidden,
            "--heads": self.heads,
            "--kv-heads": self.kv_heads,
            "--intermediate": self.intermediate,
        }
        p.need(
            min(self.layers, *shape.values()) >= 0,
            "--layers, --hidden, --heads, --kv-heads, --intermediate: >= 0",
        )
        if self.init == "prune":
            p.need(
                (self.layers >= 1) != bool(self.keep.strip()),
                "give either --layers N (N >= 1) or --keep I,J,... (not both)",
            )
            given = [flag for flag, value in {**shape, "--seed": self.seed}.items() if value]
            p.need(
                not given, f"{', '.join(given)}: only with --init random (pruning keeps the teacher's width)"
            )
        else:
            p.need(not self.keep.strip(), "--keep: only with --init prune")
        indices = [part.strip() for part in self.keep.split(",") if part.strip()]
        p.need(all(i.isdigit() for i in indices), f"--keep {self.keep!r}: comma-separated layer indices")
        occupied = self.out.is_file() or (self.out.is_dir() and any(self.out.iterdir()))
        p.need(not occupied or self.force, f"--out {self.out}: already exists and is not empty (--force)")
        p.need(not self.out.is_file(), f"--out {self.out} is a file, not a directory")
        if p:
            raise ConfigError(p)

    @property
    def keep_indices(self) -> list[int]:
        return [int(part) for part in self.keep.split(",") if part.strip()]
