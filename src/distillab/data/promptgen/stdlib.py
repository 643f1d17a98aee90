"""Instruction prompts from the Python standard library's documentation, docstrings as references.

    records, report = stdlib_prompts(["textwrap"], min_doc_words=5)
    records[0].input    # [{"role": "user", "content": "What does `textwrap.dedent` do?"}]
    records[0].reference   # textwrap.dedent's docstring, as inspect.cleandoc gives it

Every machine with Python has this text. Modules are imported (unlike the tiny world's text task, which
parses sources with `ast`) because the public API is what the questions are about: `__all__` where a
module declares it, else the public names defined in the module itself, their public methods, and C
modules such as `math` that have no source. A handful of modules with side effects on import (a browser,
a poem, a GUI, the terminal's line editor) and the test suites are never imported. Each object is asked
about once, under the first name that reaches it (modules in sorted order, so `os.open` rather than
`posix.open`); only an object's own docstring counts, never one inherited from a base class.

The question's wording is one of a few phrasings, picked by a hash of the name, so the set does not read
as one template; the same Python gives the same prompts on every run.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import random
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from distillab.data.promptgen.config import StdlibConfig
from distillab.data.promptgen.filtering import (
    PromptSetResult,
    apply_filters,
    filter_manifest,
    read_heldout,
)
from distillab.data.promptgen.rows import PromptRecord, base_manifest, user_prompt, write_prompt_set
from distillab.errors import ConfigError

NEVER_IMPORT = frozenset(
    {
        "antigravity",
        "this",
        "turtle",
        "readline",
        "idlelib",
        "tkinter",
        "turtledemo",
        "lib2to3",
        "test",
        "ensurepip",
        "pydoc_data",
        "encodings",
        "xxsubtype",
        "xxlimited",
        "xxlimited_35",
    }
)
"""Side effects on import (a browser, the Zen of Python, GUIs, the terminal's line editor), test suites,
and trees of codecs and data with no API to ask about. Their submodules are skipped too."""

PHRASINGS = {
    "function": (
        "What does `{name}` do?",
        "Explain what `{name}` does in Python.",
        "What is `{name}` used for in Python's standard library?",
        "Describe the behaviour of `{name}`.",
    ),
    "class": (
        "What is `{name}` in Python?",
        "What is the `{name}` class for?",
        "Explain what `{name}` represents in Python's standard library.",
    ),
    "module": (
        "What is the Python module `{name}` for?",
        "What does the `{name}` module of Python's standard library provide?",
    ),
}


@dataclass
class StdlibReport:
    """What reading the standard library found besides the prompts."""

    modules: list[str] = field(default_factory=list)
    """Modules read, in order."""
    unimportable: dict[str, str] = field(default_factory=dict)
    """Modules that failed to import here (another platform's, or a missing optional library): why."""
    short_docs: int = 0
    """Objects skipped because their docstring has fewer than `min_doc_words` words (or none)."""


def question(kind: str, name: str) -> str:
    options = PHRASINGS["function" if kind == "method" else kind]
    pick = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % len(options)
    return options[pick].format(name=name)


def _skipped(name: str) -> bool:
    parts = name.split(".")
    return parts[0] in NEVER_IMPORT or any(p.startswith("_") for p in parts)


def default_modules() -> list[str]:
    """Every public top-level standard-library module this Python knows of."""
    return sorted(n for n in sys.stdlib_module_names if not _skipped(n))


def _import(name: str, report: StdlibReport) -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated modules warn on import; we only read them
            return importlib.import_module(name)
    except Exception as exc:  # another platform's module, a missing C library: skip, but say so
        report.unimportable[name] = f"{type(exc).__name__}: {exc}"
        return None


def _walk(names: list[str], report: StdlibReport) -> list[ModuleType]:
    """The modules named, and their public submodules, imported, in sorted order."""
    found: dict[str, ModuleType] = {}
    pending = sorted(set(names))
    while pending:
        name = pending.pop(0)
        if name in found:
            continue
        if _skipped(name):
            report.unimportable[name] = "never imported: private, a test suite, or side effects on import"
            continue
        module = _import(name, report)
        if module is None:
            continue
        found[name] = module
        path = getattr(module, "__path__", None)
        if path is not None:
            subs = {f"{name}.{info.name}" for info in pkgutil.iter_modules(path)}
            pending = sorted(set(pending) | {s for s in subs if not _skipped(s)})
    return [found[n] for n in sorted(found)]


def _own_doc(obj: Any) -> str | None:
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else None


def _public_names(module: ModuleType) -> list[tuple[str, Any]]:
    declared = getattr(module, "__all__", None)
    if isinstance(declared, (list, tuple)):
        return [
            (n, getattr(module, n))
            for n in sorted(set(declared))
            if isinstance(n, str) and hasattr(module, n)
        ]
    return [
        (n, obj)
        for n, obj in sorted(vars(module).items())
        if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
    ]


def _objects(module: ModuleType) -> list[tuple[str, str, Any]]:
    """(kind, qualified name, object) for the module, its public classes and functions, their methods."""
    out: list[tuple[str, str, Any]] = [("module", module.__name__, module)]
    for name, obj in _public_names(module):
        if name.startswith("_"):
            continue
        qualified = f"{module.__name__}.{name}"
        if inspect.isclass(obj):
            out.append(("class", qualified, obj))
            for attr, member in sorted(vars(obj).items()):
                if attr.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isroutine(member):
                    out.append(("method", f"{qualified}.{attr}", member))
        elif inspect.isroutine(obj):
            out.append(("function", qualified, obj))
    return out


def stdlib_prompts(
    modules: list[str] | None, *, min_doc_words: int
) -> tuple[list[PromptRecord], StdlibReport]:
    """A prompt per documented module, class, function and method of `modules` (default: all public)."""
    report = StdlibReport()
    imported = _walk(list(modules) if modules is not None else default_modules(), report)
    if modules is not None and not imported:
        raise ConfigError(
            "--modules: none could be imported: "
            + "; ".join(f"{k} ({v})" for k, v in report.unimportable.items())
        )
    python = ".".join(map(str, sys.version_info[:3]))
    seen: set[int] = set()
    records: list[PromptRecord] = []
    for module in imported:
        report.modules.append(module.__name__)
        for kind, name, obj in _objects(module):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            doc = _own_doc(obj)
            if doc is None or len(doc.split()) < min_doc_words:
                report.short_docs += 1
                continue
            source: dict[str, str | int | list[str]] = {
                "kind": "stdlib",
                "module": module.__name__,
                "object": name,
                "type": kind,
                "python": python,
            }
            records.append(PromptRecord(f"stdlib:{name}", user_prompt(question(kind, name)), source, doc))
    return records, report


def run_stdlib(config: StdlibConfig) -> PromptSetResult:
    """Build, filter and write the standard-library prompt set `config` describes."""
    heldout = read_heldout(config.heldout)
    records, report = stdlib_prompts(list(config.modules) or None, min_doc_words=config.min_doc_words)
    outcome = apply_filters(records, config, heldout=heldout)
    kept = outcome.kept
    if config.limit is not None and len(kept) > config.limit:
        chosen = sorted(random.Random(config.seed).sample(range(len(kept)), config.limit))
        outcome.dropped["over_limit"] = len(kept) - config.limit
        kept = [kept[i] for i in chosen]
    manifest = base_manifest("stdlib")
    manifest["python"] = sys.version
    manifest["modules"] = {
        "asked": list(config.modules) or "all public standard-library modules",
        "read": len(report.modules),
        "unimportable": report.unimportable,
    }
    manifest["objects_without_enough_doc"] = report.short_docs
    manifest["filters"] = filter_manifest(config, heldout)
    manifest["limit"] = {"limit": config.limit, "seed": config.seed}
    manifest["counts"] = {
        "candidates": len(records),
        "kept": len(kept),
        "dropped": dict(outcome.dropped),
    }
    manifest["sources"] = dict(Counter(str(r.source["type"]) for r in kept))
    write_prompt_set(config.out, kept, manifest)
    return PromptSetResult(config.out, len(records), len(kept), dict(outcome.dropped), manifest)
