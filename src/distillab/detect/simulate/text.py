"""Raw material for simulated prompts: real text from the standard library's docstrings (word lists
are in `words`), and the random picks the hot paths use.

The docstrings give documents to ask about, sentences to translate or summarise, and real API names for
coding questions. They differ slightly between Python versions, so byte-identical output is promised
for the same config on the same Python version.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Sequence
from random import Random
from typing import NamedTuple, TypeVar

T = TypeVar("T")

_MODULES = (
    "json",
    "csv",
    "textwrap",
    "string",
    "collections",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "statistics",
    "fractions",
    "decimal",
    "datetime",
    "calendar",
    "difflib",
    "pathlib",
    "shutil",
    "tempfile",
    "argparse",
    "logging",
    "re",
    "random",
    "math",
    "hashlib",
    "base64",
    "zipfile",
    "sqlite3",
    "urllib.parse",
    "unittest",
    "typing",
    "dataclasses",
    "enum",
    "contextlib",
    "threading",
    "subprocess",
    "socket",
    "pickle",
    "copy",
    "pprint",
    "operator",
    "uuid",
    "secrets",
    "gzip",
    "glob",
    "fnmatch",
    "shlex",
    "configparser",
    "html",
    "colorsys",
    "graphlib",
    "zoneinfo",
    "ipaddress",
    "queue",
    "sched",
    "struct",
    "weakref",
    "abc",
    "codecs",
    "locale",
    "gettext",
    "mimetypes",
    "tarfile",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z_]{4,}")


class Corpus(NamedTuple):
    apis: list[tuple[str, str]]
    """(dotted name, one-line summary) of documented public functions and classes."""
    documents: list[tuple[str, str]]
    """(title, paragraph) pairs of prose, 150 to 900 characters."""
    sentences: list[str]
    """Single prose sentences, 30 to 160 characters."""


def _paragraphs(doc: str) -> list[str]:
    found = []
    for block in doc.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or any(line.startswith((" ", ">>>", "..", "$", "|", "-", "*", "+")) for line in lines):
            continue
        text = " ".join(line.strip() for line in lines)
        if 150 <= len(text) <= 900 and text[0].isupper() and text.endswith("."):
            found.append(text)
    return found


@functools.cache
def corpus() -> Corpus:
    """Everything mined from the docstrings, in a fixed order (module list order, then sorted names)."""
    apis: list[tuple[str, str]] = []
    documents: list[tuple[str, str]] = []
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a Python built without sqlite3 or zoneinfo data
            continue
        documents += [(name, p) for p in _paragraphs(inspect.getdoc(module) or "")]
        for attr in sorted(getattr(module, "__all__", None) or dir(module)):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or not (
                inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)
            ):
                continue
            doc = inspect.getdoc(obj) or ""
            first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
            if 20 <= len(first) <= 200 and not first.startswith(attr + "("):
                apis.append((f"{name}.{attr}", first))
            documents += [(f"{name}.{attr}", p) for p in _paragraphs(doc)]
    sentences = sorted(
        {
            s
            for _, p in documents
            for s in _SENTENCE_END.split(p)
            if 30 <= len(s) <= 160 and s.endswith(".") and "`" not in s
        }
    )
    return Corpus(apis, documents, sentences)


def pick(r: Random, items: Sequence[T]) -> T:
    """`r.choice(items)`, three times faster (what the hot paths use)."""
    return items[int(r.random() * len(items))]


def between(r: Random, low: int, high: int) -> int:
    """`r.randint(low, high)`, faster."""
    return low + int(r.random() * (high - low + 1))


def terms(text: str) -> list[str]:
    """Longer words of a text that a question could be about, first occurrence order."""
    return list(dict.fromkeys(w for w in _WORD.findall(text) if w.lower() not in _COMMON))


_COMMON = {
    "which",
    "there",
    "these",
    "their",
    "other",
    "where",
    "would",
    "should",
    "could",
    "about",
    "after",
    "before",
    "being",
    "every",
    "first",
    "given",
    "might",
    "never",
    "since",
    "still",
    "those",
    "under",
    "until",
    "using",
    "while",
    "always",
    "returns",
    "return",
    "default",
    "argument",
    "arguments",
    "object",
    "objects",
    "function",
    "functions",
    "value",
    "values",
    "module",
    "method",
    "methods",
    "called",
}
