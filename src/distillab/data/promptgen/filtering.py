"""Dropping prompts: wrong length or language, refused by a checker, near a held-out prompt, or a
near-duplicate of a prompt already kept.

Near-duplicates are judged on shingles, the set of a prompt's word bigrams (lower-cased words; dotted
names such as `os.path.join` stay one word; a one-word prompt is its word): the Jaccard similarity
|A & B| / |A | B|. Bigrams rather than single words, because questions that differ only in what they ask
about ("What does `json.dumps` do?", "... `json.loads` ...") share most of their words but not their
bigrams. MinHash LSH (datasketch) finds the candidates among the
prompts kept so far, in sub-linear time, and the exact Jaccard of each candidate decides, so a verdict is
never a MinHash estimate; LSH can miss a pair just above the threshold (rarely: see `LSH_WEIGHTS`), never
report one below it. Prompts are kept first come, first served.

    outcome = apply_filters(records, settings, heldout=read_heldout(settings.heldout))
    outcome.kept, outcome.dropped     # {"near_duplicate": 12, "heldout": 3, ...}
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasketch import MinHash, MinHashLSH

from distillab.data.promptgen.config import FilterConfig, FilterSettings
from distillab.data.promptgen.rows import (
    PromptRecord,
    base_manifest,
    prompt_text,
    read_prompt_set,
    write_prompt_set,
)
from distillab.data.prompts import file_sha256, read_prompts
from distillab.errors import ConfigError, DataError

NUM_PERM = 128
LSH_WEIGHTS = (0.02, 0.98)
"""False positives cost one exact Jaccard each, false negatives a duplicate kept: so LSH's bands are
chosen to miss little. At threshold 0.7 (datasketch picks 23 bands of 5 rows) a pair exactly at
the threshold is missed with probability ~1.5%, one 0.05 above it ~0.2%."""
REASONS = ("too_short", "too_long", "language", "checker", "heldout", "near_seed", "near_duplicate")
"""Why a prompt is dropped, in the order the filters run (cheap ones first)."""
_WORD = re.compile(r"\w+(?:[.'-]\w+)*")


def shingles(text: str) -> frozenset[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 2:
        return frozenset(words)
    return frozenset(f"{a} {b}" for a, b in zip(words, words[1:]))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class NearDuplicates:
    """Word sets seen so far, and whether a new one is near any of them."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=min(threshold, 0.99), num_perm=NUM_PERM, weights=LSH_WEIGHTS)
        self._sets: dict[str, frozenset[str]] = {}

    def _minhash(self, word_set: frozenset[str]) -> MinHash:
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([w.encode("utf-8") for w in sorted(word_set)])
        return m

    def near(self, word_set: frozenset[str]) -> str | None:
        """The key of a stored set at least `threshold` similar to `word_set`, if any."""
        for key in self._lsh.query(self._minhash(word_set)):
            if jaccard(self._sets[key], word_set) >= self.threshold:
                return str(key)
        return None

    def add(self, key: str, word_set: frozenset[str]) -> None:
        self._sets[key] = word_set
        self._lsh.insert(key, self._minhash(word_set))


@dataclass(frozen=True)
class HeldOut:
    """Prompts that must not leak into a set, with the file each came from (for the manifest)."""

    texts: list[str]
    files: list[dict[str, Any]] = field(default_factory=list)


def read_heldout(paths: Sequence[Path]) -> HeldOut:
    texts: list[str] = []
    files = []
    for path in paths:
        rows = read_prompts(path)
        texts += [prompt_text(r.input) for r in rows]
        files.append({"path": str(path.resolve()), "hash": file_sha256(path), "count": len(rows)})
    return HeldOut(texts, files)


def load_checker(name: str) -> Callable[[str], Any]:
    """The `module:function` named by --checker."""
    module_name, _, attr = name.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--checker: cannot import {name!r} ({exc})") from exc
    if not callable(function):
        raise ConfigError(f"--checker: {name!r} is not callable")
    return function  # type: ignore[no-any-return]


def language_of() -> Callable[[str], str]:
    try:
        import py3langid
    except ImportError as exc:
        raise ConfigError("--language needs the py3langid package (pip install py3langid)") from exc
    return lambda text: str(py3langid.classify(text)[0])


@dataclass
class FilterOutcome:
    kept: list[PromptRecord]
    dropped: Counter[str]

    def counts(self, candidates: int) -> dict[str, Any]:
        return {
            "candidates": candidates,
            "kept": len(self.kept),
            "dropped": {reason: self.dropped[reason] for reason in self.dropped},
        }


def apply_filters(
    records: Iterable[PromptRecord],
    settings: FilterSettings,
    *,
    heldout: HeldOut | None = None,
    seeds: Sequence[str] = (),
) -> FilterOutcome:
    """Keep the records no filter drops, in order. `seeds`: texts the set must not copy (self-instruct's
    seed prompts), dropped as `near_seed`."""
    checker = load_checker(settings.checker) if settings.checker else None
    language = language_of() if settings.language else None
    held = NearDuplicates(settings.similarity)
    for i, text in enumerate(heldout.texts if heldout else []):
        held.add(f"heldout-{i}", shingles(text))
    known = NearDuplicates(settings.similarity)
    for i, text in enumerate(seeds):
        known.add(f"seed-{i}", shingles(text))
    kept: list[PromptRecord] = []
    dropped: Counter[str] = Counter()
    for record in records:
        text = record.text
        reason = _drop_reason(record, text, settings, checker, language, held, known)
        if reason is None:
            known.add(f"kept-{len(kept)}", shingles(text))
            kept.append(record)
        else:
            dropped[reason] += 1
    return FilterOutcome(kept, dropped)


def _drop_reason(
    record: PromptRecord,
    text: str,
    settings: FilterSettings,
    checker: Callable[[str], Any] | None,
    language: Callable[[str], str] | None,
    held: NearDuplicates,
    known: NearDuplicates,
) -> str | None:
    stripped = text.strip()
    if len(stripped) < settings.min_chars:
        return "too_short"
    if len(stripped) > settings.max_chars:
        return "too_long"
    if language is not None and language(stripped) != settings.language:
        return "language"
    if checker is not None:
        try:
            if not checker(text):
                return "checker"
        except Exception as exc:  # the user's code: any failure is reported against the prompt
            raise DataError(f"--checker {settings.checker} failed on prompt {record.id!r}: {exc!r}") from exc
    word_set = shingles(text)
    if held.near(word_set) is not None:
        return "heldout"
    near = known.near(word_set)
    if near is not None:
        return "near_seed" if near.startswith("seed-") else "near_duplicate"
    return None


def filter_manifest(settings: FilterSettings, heldout: HeldOut) -> dict[str, Any]:
    return {
        "similarity": settings.similarity,
        "similarity_measure": "Jaccard of word-bigram sets; MinHash LSH candidates, exact check",
        "heldout": heldout.files,
        "min_chars": settings.min_chars,
        "max_chars": settings.max_chars,
        "language": settings.language,
        "checker": settings.checker,
    }


@dataclass
class PromptSetResult:
    """What a `distillab prompts` command wrote."""

    out: Path
    candidates: int
    kept: int
    dropped: dict[str, int]
    manifest: dict[str, Any]

    def describe(self) -> str:
        dropped = ", ".join(f"{k} {v}" for k, v in self.dropped.items() if v) or "none"
        return f"kept {self.kept} of {self.candidates} prompts in {self.out} (dropped: {dropped})"


def run_filter(config: FilterConfig) -> PromptSetResult:
    """Filter `config.prompts` into `config.out`. Every input is read and checked before anything is
    written."""
    records = [r for path in config.prompts for r in read_prompt_set(path)]
    if not records:
        raise DataError(f"{', '.join(map(str, config.prompts))}: no prompts")
    heldout = read_heldout(config.heldout)
    outcome = apply_filters(records, config, heldout=heldout)
    manifest = base_manifest("filter")
    manifest["inputs"] = [{"path": str(p.resolve()), "hash": file_sha256(p)} for p in config.prompts]
    manifest["filters"] = filter_manifest(config, heldout)
    manifest["counts"] = outcome.counts(len(records))
    manifest["sources"] = dict(Counter(str(r.source.get("kind", "unknown")) for r in outcome.kept))
    write_prompt_set(config.out, outcome.kept, manifest)
    counts = manifest["counts"]
    return PromptSetResult(config.out, len(records), len(outcome.kept), counts["dropped"], manifest)
