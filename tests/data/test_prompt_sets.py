"""`distillab prompts stdlib` and `distillab prompts filter`: real docstrings as references, near-duplicates
and held-out look-alikes dropped, distinct prompts kept, bad input refused before anything is written."""

from __future__ import annotations

import inspect
import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from distillab.data.promptgen.config import FilterConfig, FilterSettings, StdlibConfig
from distillab.data.promptgen.filtering import apply_filters, jaccard, read_heldout, run_filter, shingles
from distillab.data.promptgen.rows import PromptRecord, user_prompt
from distillab.data.promptgen.stdlib import run_stdlib, stdlib_prompts
from distillab.data.prompts import read_prompts
from distillab.errors import ConfigError
from distillab.evaluate.tasks import load_task

ENV = dict(os.environ, COLUMNS="500")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "distillab.cli.main", "prompts", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        check=False,
    )


def _records(texts: list[str]) -> list[PromptRecord]:
    return [PromptRecord(f"p{i}", user_prompt(t), {"kind": "test"}) for i, t in enumerate(texts)]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_stdlib_prompts_keep_the_real_docstring_and_are_deterministic() -> None:
    first, report = stdlib_prompts(["textwrap", "json"], min_doc_words=5)
    again, _ = stdlib_prompts(["textwrap", "json"], min_doc_words=5)
    assert [(r.id, r.input, r.reference, r.source) for r in first] == [
        (r.id, r.input, r.reference, r.source) for r in again
    ]
    by_id = {r.id: r for r in first}
    dedent = by_id["stdlib:textwrap.dedent"]
    assert dedent.reference == inspect.getdoc(textwrap.dedent)
    assert "`textwrap.dedent`" in dedent.text and dedent.text.endswith((".", "?"))
    assert dedent.source == {
        "kind": "stdlib",
        "module": "textwrap",
        "object": "textwrap.dedent",
        "type": "function",
        "python": ".".join(map(str, sys.version_info[:3])),
    }
    # Classes, their own methods, re-exports under the public name, and the modules themselves.
    assert by_id["stdlib:textwrap.TextWrapper.wrap"].reference == inspect.getdoc(textwrap.TextWrapper.wrap)
    assert by_id["stdlib:json.dumps"].reference == inspect.getdoc(json.dumps)
    assert "stdlib:json.encoder.dumps" not in by_id  # one object, asked about once
    assert by_id["stdlib:json"].reference == inspect.getdoc(json)
    assert "stdlib:textwrap" not in by_id  # "Text wrapping and filling.": too short to be an answer
    assert not any(".__" in r.id or "._" in r.id for r in first)  # nothing private
    assert "json.tool" in report.modules
    # A C module has no source to parse, but its docstrings are as real.
    math_rows, _ = stdlib_prompts(["math"], min_doc_words=3)
    import math

    assert {r.id: r.reference for r in math_rows}["stdlib:math.sqrt"] == inspect.getdoc(math.sqrt)


def test_stdlib_command_writes_what_generate_and_eval_read(tmp_path: Path) -> None:
    out = tmp_path / "stdlib"
    result = run_stdlib(StdlibConfig(out=out, modules=("textwrap",), limit=5, seed=3))
    assert result.kept == 5 and result.dropped["over_limit"] == result.candidates - 5
    rows = read_prompts(out / "prompts.jsonl")  # the harvest's reader
    assert len(rows) == 5 and all(r.id and r.id.startswith("stdlib:textwrap") for r in rows)
    task = load_task(str(out / "prompts.jsonl"), n=10)  # eval reads the docstrings as reference answers
    assert [item.reference for item in task.items] == [
        row["reference"] for row in _rows(out / "prompts.jsonl")
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {
        "candidates": result.candidates,
        "kept": 5,
        "dropped": {"over_limit": result.candidates - 5},
    }
    assert manifest["filters"]["similarity"] == 0.7 and manifest["modules"]["asked"] == ["textwrap"]
    # Same config, same prompts.
    run_stdlib(StdlibConfig(out=tmp_path / "again", modules=("textwrap",), limit=5, seed=3))
    assert (tmp_path / "again" / "prompts.jsonl").read_text() == (out / "prompts.jsonl").read_text()


def test_near_duplicates_dropped_distinct_prompts_kept() -> None:
    texts = [
        "How do I sort a list in Python?",
        "How do I sort a list in python",  # same words, other case and punctuation
        "What does `json.dumps` do?",
        "What does `json.loads` do?",  # differs only in what it asks about: distinct
        "Write a haiku about autumn leaves falling on a quiet pond.",
        "Write a haiku about autumn leaves falling on a quiet lake.",
        "Explain recursion to a ten-year-old.",
    ]
    outcome = apply_filters(_records(texts), FilterSettings(similarity=0.7))
    assert [r.text for r in outcome.kept] == [texts[0], texts[2], texts[3], texts[4], texts[6]]
    assert outcome.dropped == {"near_duplicate": 2}
    # At threshold 1 only identical shingle sets go.
    strict = apply_filters(_records(texts), FilterSettings(similarity=1.0))
    assert strict.dropped == {"near_duplicate": 1}


def test_every_verdict_is_the_exact_jaccard() -> None:
    """LSH proposes, the exact Jaccard decides: no kept pair is near, every drop has a near partner."""
    subjects = ["a list", "a dict", "a string", "a file", "two lists", "a CSV file", "a JSON string"]
    verbs = ["sort", "reverse", "copy", "merge", "parse", "print", "split"]
    tails = ["in Python?", "in Python quickly?", "without a loop in Python?"]
    texts = [f"How do I {v} {s} {t}" for v, s, t in itertools.product(verbs, subjects, tails)]
    settings = FilterSettings(similarity=0.6)
    outcome = apply_filters(_records(texts), settings)
    kept = [shingles(r.text) for r in outcome.kept]
    assert all(jaccard(a, b) < 0.6 for a, b in itertools.combinations(kept, 2))
    dropped = [t for t in texts if t not in {r.text for r in outcome.kept}]
    assert dropped and all(max(jaccard(shingles(t), k) for k in kept) >= 0.6 for t in dropped)
    assert sum(outcome.dropped.values()) == len(dropped)


def test_heldout_lookalikes_and_other_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    heldout = tmp_path / "eval.jsonl"
    heldout.write_text(
        json.dumps({"messages": [{"role": "user", "content": "What is the capital of France?"}]}) + "\n"
    )
    (tmp_path / "mychecks.py").write_text(
        "def no_digits(text):\n    return not any(c.isdigit() for c in text)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    texts = [
        "what is the capital of France",  # held out
        "What is the capital city of Germany?",
        "Hi",  # too short
        "Wie spät ist es jetzt in Berlin, bitte sag es mir?",  # German
        "Add 12 and 30 and explain every step.",  # refused by the checker
        "Tell me a story about a brave little toaster.",
    ]
    settings = FilterSettings(
        similarity=0.7, heldout=(heldout,), language="en", checker="mychecks:no_digits", max_chars=200
    )
    outcome = apply_filters(_records(texts), settings, heldout=read_heldout([heldout]))
    assert [r.text for r in outcome.kept] == [texts[1], texts[5]]
    assert outcome.dropped == {"heldout": 1, "too_short": 1, "language": 1, "checker": 1}


def test_filter_command_merges_files_keeps_references_and_sources(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(
        json.dumps({"id": "a1", "prompt": "Write a limerick about a cat.", "reference": "There once..."})
        + "\n"
    )
    b.write_text(
        json.dumps({"id": "b1", "messages": [{"role": "user", "content": "Write a limerick about a cat!"}]})
        + "\n\n"
        + json.dumps({"messages": [{"role": "user", "content": "Name three prime numbers."}]})
        + "\n"
    )
    result = run_filter(FilterConfig(prompts=(a, b), out=tmp_path / "out"))
    assert (result.kept, result.dropped) == (2, {"near_duplicate": 1})
    rows = _rows(tmp_path / "out" / "prompts.jsonl")
    assert rows[0] == {
        "id": "a1",
        "prompt": "Write a limerick about a cat.",
        "reference": "There once...",
        "source": {"kind": "file", "file": str(a), "line": 1},
    }
    assert rows[1]["id"] == "b:3" and rows[1]["source"] == {"kind": "file", "file": str(b), "line": 3}


def test_bad_rows_and_flags_fail_naming_the_place_and_write_nothing(tmp_path: Path) -> None:
    prompts, out = tmp_path / "p.jsonl", tmp_path / "out"
    prompts.write_text('{"prompt": "fine, a prompt"}\n{"prompt": "another prompt"}\n{"messages": "oops"}\n')
    result = _cli("filter", "--prompts", str(prompts), "--out", str(out))
    assert result.returncode == 1
    assert f"{prompts}:3" in result.stderr and "'messages' must be a non-empty list" in result.stderr
    assert not out.exists()
    bad_heldout = tmp_path / "h.jsonl"
    bad_heldout.write_text('{"prompt": "x"}\n{"prompt": 5}\n')
    result = _cli("stdlib", "--modules", "textwrap", "--heldout", str(bad_heldout), "--out", str(out))
    assert result.returncode == 1 and f"{bad_heldout}:2" in result.stderr and not out.exists()
    with pytest.raises(ConfigError) as caught:
        FilterConfig(prompts=(tmp_path / "missing.jsonl",), out=out, similarity=0.0, language="English")
    assert len(caught.value.problems) == 3
