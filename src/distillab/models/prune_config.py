"""`PruneConfig`: the options of `distillab student`, apart from `prune` so the CLI loads without torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f


@dataclass
class PruneConfig:
    """Which teacher to cut a student from, how deep, and where to write it."""

    teacher: Path = _f(Path(), "Teacher: a Hugging Face model directory or a GGUF file.")
    out: Path = _f(Path(), "Directory to write the student to (new or empty, or --force).")
    layers: int = _f(0, "How many of the teacher's layers to keep, evenly spaced (first and last always).")
    keep: str = _f(
        "", "Exactly which layers to keep instead, comma-separated 0-based indices (e.g. 0,4,8,11)."
    )
    force: bool = _f(False, "Replace --out if it exists and is not empty.")

    def __post_init__(self) -> None:
        p = Problems()
        p.need(str(self.teacher) not in ("", "."), "--teacher is required (a model directory or GGUF file)")
        p.need(str(self.out) not in ("", "."), "--out is required (a new directory)")
        p.need(
            (self.layers >= 1) != bool(self.keep.strip()),
            "give either --layers N (N >= 1) or --keep I,J,... (not both)",
        )
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
