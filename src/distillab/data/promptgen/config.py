"""The options of `distillab prompts stdlib|synthesize|filter`, each declared once with its help.

`FilterSettings` (near-duplicates, held-out set, length, language, checker) is shared by all three;
`SynthesizeConfig` adds the harvest's settings (teacher, sampling, limits, budget, terms).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from distillab.data.config import HarvestSettings
from distillab.data.prompts import SUFFIXES
from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f

METHODS = ("magpie", "self-instruct")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_CHECKER = re.compile(r"[\w.]+:\w+")


@dataclass
class FilterSettings:
    """Which prompts to drop: near-duplicates, held-out look-alikes, wrong length or language."""

    similarity: float = _f(
        0.7,
        "Near-duplicate threshold: a prompt whose Jaccard similarity (of word-bigram sets) with a kept "
        "prompt, or a --heldout one, is at least this is dropped; 1 drops only identical bigram sets.",
    )
    heldout: tuple[Path, ...] = _f(
        (),
        "Prompt file (.jsonl, .csv, .parquet) that must not leak in: prompts near any of its prompts "
        "are dropped (repeat for several files).",
    )
    min_chars: int = _f(10, "Drop prompts shorter than this many characters.")
    max_chars: int = _f(4000, "Drop prompts longer than this many characters.")
    language: str | None = _f(
        None, "Keep only prompts identified (py3langid) as this ISO 639-1 language, e.g. en."
    )
    checker: str | None = _f(
        None, "module:function called with each prompt's text; prompts it returns False for are dropped."
    )

    def normalize_filters(self) -> None:
        self.heldout = tuple(Path(p) for p in self.heldout)

    def filter_problems(self) -> Problems:
        p = Problems()
        need = p.need
        need(0.0 < self.similarity <= 1.0, f"--similarity must be in (0, 1] (got {self.similarity})")
        for path in self.heldout:
            need(
                path.suffix.lower() in SUFFIXES and path.is_file(),
                f"--heldout {str(path)!r}: not an existing {', '.join(SUFFIXES)} file",
            )
        need(self.min_chars >= 0, f"--min-chars must be 0 or more (got {self.min_chars})")
        need(
            self.max_chars >= max(1, self.min_chars),
            f"--max-chars must be at least --min-chars and 1 (got {self.max_chars})",
        )
        need(
            self.language is None or bool(_LANGUAGE.fullmatch(self.language)),
            f"--language must be a lower-case ISO 639 code such as en (got {self.language!r})",
        )
        need(
            self.checker is None or bool(_CHECKER.fullmatch(self.checker)),
            f"--checker must be module:function (got {self.checker!r})",
        )
        return p


def _need_out(p: Problems, out: Path) -> None:
    p.need(str(out) not in ("", "."), "--out is required (a directory for prompts.jsonl and manifest.json)")
    p.need(not out.is_file(), f"--out {str(out)!r} is a file, not a directory")


@dataclass
class StdlibConfig(FilterSettings):
    """Questions about the standard library's modules, classes and functions, docstrings as references."""

    out: Path = _f(Path(), "Output directory: prompts.jsonl and manifest.json.")
    modules: tuple[str, ...] = _f(
        (),
        "Standard-library module to read, with its submodules (repeat for several; default: every "
        "public one).",
    )
    min_doc_words: int = _f(5, "Skip objects whose docstring has fewer words (too little to be an answer).")
    limit: int | None = _f(None, "Keep at most this many prompts, a random sample drawn with --seed.")
    seed: int = _f(0, "Seed of the --limit sample.")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.modules = tuple(self.modules)
        self.normalize_filters()
        p = self.filter_problems()
        _need_out(p, self.out)
        p.need(all(self.modules), "--modules must not be empty")
        p.need(self.min_doc_words >= 1, f"--min-doc-words must be at least 1 (got {self.min_doc_words})")
        p.need(self.limit is None or self.limit >= 1, f"--limit must be at least 1 (got {self.limit})")
        if p:
            raise ConfigError(p)


@dataclass
class SynthesizeConfig(HarvestSettings, FilterSettings):
    """New instructions written by a teacher, asked through the harvest machinery."""

    out: Path = _f(
        Path(), "Output directory: prompts.jsonl, manifest.json, and harvest/ (the teacher's answers)."
    )
    method: str = _f(
        "magpie",
        "magpie: the teacher continues its chat template from the start of a user turn, writing a "
        "user's request; self-instruct: it is shown --examples seed prompts and asked for a new one.",
    )
    count: int = _f(100, "Samples to ask the teacher for (prompts kept after filtering: at most this).")
    seeds: Path | None = _f(None, "Seed prompt file for self-instruct (.jsonl, .csv or .parquet).")
    examples: int = _f(3, "Seed prompts shown in each self-instruct request.")
    system: str = _f(
        "", "Magpie: a system message before the user turn, to steer the topic (default: the template's)."
    )
    tokenizer: str | None = _f(
        None,
        "Magpie: model directory or .gguf whose chat template gives the prefix (default: the teacher's "
        "own; required for a URL teacher).",
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.seeds = Path(self.seeds) if self.seeds is not None else None
        self.stop = tuple(self.stop)
        self.normalize_filters()
        p = self.problems()
        p += self.filter_problems()
        _need_out(p, self.out)
        need = p.need
        need(self.method in METHODS, f"--method must be one of {', '.join(METHODS)} (got {self.method!r})")
        need(self.count >= 1, f"--count must be at least 1 (got {self.count})")
        need(self.examples >= 1, f"--examples must be at least 1 (got {self.examples})")
        if self.method == "self-instruct":
            need(self.seeds is not None, "--seeds is required for --method self-instruct")
            if self.seeds is not None:
                need(
                    self.seeds.suffix.lower() in SUFFIXES and self.seeds.is_file(),
                    f"--seeds {str(self.seeds)!r}: not an existing {', '.join(SUFFIXES)} file",
                )
        elif self.method == "magpie":
            need(self.seeds is None, "--seeds is only read by --method self-instruct")
            remote = self.teacher.startswith(("http://", "https://"))
            need(
                self.tokenizer is not None or not remote,
                "--tokenizer is required for Magpie with a URL teacher (a model directory or .gguf "
                "with the served model's chat template)",
            )
        need(self.tokenizer is None or self.method == "magpie", "--tokenizer is only read by --method magpie")
        if p:
            raise ConfigError(p)


@dataclass
class FilterConfig(FilterSettings):
    """Filter prompt files (this command's own outputs or any prompts .jsonl) into one prompt set."""

    prompts: tuple[Path, ...] = _f((), "Prompt .jsonl file to filter (repeat for several; kept in order).")
    out: Path = _f(Path(), "Output directory: prompts.jsonl and manifest.json.")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.prompts = tuple(Path(p) for p in self.prompts)
        self.normalize_filters()
        p = self.filter_problems()
        _need_out(p, self.out)
        p.need(bool(self.prompts), "--prompts is required (a .jsonl prompt file)")
        for path in self.prompts:
            p.need(
                path.suffix.lower() == ".jsonl" and path.is_file(),
                f"--prompts {str(path)!r}: not an existing .jsonl file",
            )
        if p:
            raise ConfigError(p)
