"""The tiny world's open-ended task: continue a paragraph of Python standard-library documentation.

Every machine with Python has this text, it is real English prose about code, and continuing it has
plenty of entropy, which watermarking needs. Docstrings are read from the stdlib's `.py` sources with
`ast` (never imported: importing runs module code, and some modules open browsers, print poems or start
GUIs), plus the compiled-in modules (`builtins`, `itertools`, ...) whose docstrings only exist at run
time; those are part of the interpreter, already loaded, so reading them has no side effects.
Tests, IDLE, tkinter and demo packages are skipped.

A paragraph goes to the test split by a hash of its text, so splits are disjoint and stable across
seeds and Python versions (a paragraph keeps its split wherever it appears).

    from distillab.toy.text import passages
    p = passages("test", 3, seed=0)[0]
    p.prompt, p.continuation   # the first words of a paragraph, and the rest of it
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import os
import random
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.toy.arith import Split
from distillab.toy.cache import cached_build

SKIP_DIRS = {
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "lib2to3",
    "ensurepip",
    "site-packages",
    "dist-packages",
    "__pycache__",
    "__phello__",
    "config-3",
}
SKIP_FILES = {"antigravity.py", "this.py", "turtle.py", "__main__.py"}
MIN_WORDS = 12
MAX_CONTINUATION_WORDS = 60
"""Longer paragraphs are cut so one training sequence stays short enough for CPU training."""
TEST_FRACTION = 10


@dataclass(frozen=True)
class Passage:
    """A paragraph split in two: the model sees `prompt` and should write something like `continuation`."""

    id: str
    prompt: str
    continuation: str


def _source_docstrings(root: str) -> list[str]:
    docs: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("config-"))
        for name in sorted(filenames):
            if not name.endswith(".py") or name in SKIP_FILES:
                continue
            try:
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    tree = ast.parse(f.read())
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
                continue  # a broken or non-UTF-8 file only costs us its docstrings
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc:
                        docs.append(doc)
    return docs


def _builtin_docstrings() -> list[str]:
    docs: list[str] = []
    for module_name in sorted(sys.builtin_module_names):
        module = sys.modules.get(module_name) or __import__(module_name)
        objects = [
            obj for _, obj in inspect.getmembers(module) if inspect.isroutine(obj) or inspect.isclass(obj)
        ]
        for obj in list(objects):
            if inspect.isclass(obj) and obj.__module__ == module_name:
                objects += [m for _, m in inspect.getmembers(obj) if inspect.isroutine(m)]
        docs += [d for d in (inspect.getdoc(o) for o in objects) if d]
    return docs


def _extract_paragraphs() -> list[str]:
    docs = _source_docstrings(sysconfig.get_paths()["stdlib"]) + _builtin_docstrings()
    seen: dict[str, None] = {}
    for doc in docs:
        for para in doc.split("\n\n"):
            if ">>>" in para or "::" in para:  # doctests and literal blocks are code, not prose
                continue
            words = para.split()
            if len(words) >= MIN_WORDS:
                seen.setdefault(" ".join(words), None)
    return list(seen)


@functools.lru_cache(maxsize=1)
def paragraphs() -> tuple[str, ...]:
    """Distinct prose paragraphs (whitespace collapsed) from stdlib docstrings, in a stable order.

    Parsing the stdlib takes seconds, so the result is kept in the toy cache (per Python version).
    """

    def build(tmp: Path) -> None:
        found = _extract_paragraphs()
        (tmp / "paragraphs.json").write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")

    try:
        entry = cached_build("stdlib-text", {"python": sys.version}, build)
    except OSError:  # an unwritable cache only costs the parsing time
        return tuple(_extract_paragraphs())
    return tuple(json.loads((entry / "paragraphs.json").read_text(encoding="utf-8")))


def split_of(paragraph: str) -> Split:
    """The split of a paragraph, from a hash of its text."""
    digest = int(hashlib.sha256(paragraph.encode()).hexdigest()[:8], 16)
    return "test" if digest % TEST_FRACTION == 0 else "train"


def to_passage(paragraph: str) -> Passage:
    """Cut a paragraph after its first third (6 to 20 words); the rest, capped, is the continuation."""
    words = paragraph.split()
    cut = max(6, min(20, len(words) // 3))
    prompt = " ".join(words[:cut])
    pid = "text-" + hashlib.sha256(paragraph.encode()).hexdigest()[:12]
    return Passage(pid, prompt, " ".join(words[cut : cut + MAX_CONTINUATION_WORDS]))


def passages(split: Split, n: int | None = None, seed: int = 0) -> list[Passage]:
    """`n` passages of `split` (all of them if None), in an order shuffled by `seed`."""
    if split not in ("train", "test"):
        raise ConfigError(f"split: expected 'train' or 'test', got {split!r}")
    pool = [p for p in paragraphs() if split_of(p) == split]
    if n is not None and not 0 <= n <= len(pool):
        raise ConfigError(f"n: the text task has {len(pool)} {split} passages on this Python, asked for {n}")
    random.Random(f"text-{split}-{seed}").shuffle(pool)
    return [to_passage(p) for p in pool[:n]]
