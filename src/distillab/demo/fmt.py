"""Formatting for the contest report: values that may be missing, as text ("n/a" when they are)."""

from __future__ import annotations

import math
import re
from typing import Any

from distillab.provenance.report import format_p

NA = "n/a"
PATH = re.compile(r"[\w.+-]*(?:/[\w.+-]+)+")
"""A file path inside a sentence (shortened to its last part by `plain`)."""


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def pct(value: Any) -> str:
    x = number(value)
    return NA if x is None else f"{100 * x:.1f}%"


def num(value: Any) -> str:
    x = number(value)
    if x is None:
        return NA
    return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"


def num2(value: Any) -> str:
    x = number(value)
    return NA if x is None else f"{x:.2f}"


def p_text(value: Any) -> str:
    x = number(value)
    return NA if x is None else format_p(x)


def duration(value: Any) -> str:
    seconds = number(value)
    if seconds is None:
        return NA
    minutes = round(seconds / 60)
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def plain(text: Any, teacher: Any) -> str:
    """A question or verdict without long paths: the teacher by role, other models by their last part."""
    text = str(text or "")
    if isinstance(teacher, str) and teacher:
        text = text.replace(teacher, "the teacher")
    text = re.sub(r"\bsuspect('s)? \([^()]*\)", r"suspect\1", text)
    text = re.sub(r"^Was \S+ trained", "Was the suspect trained", text)
    return PATH.sub(lambda match: match.group(0).rsplit("/", 1)[-1], text)


def test_label(name: str, teacher: Any) -> str:
    """A test's name with short model names: ``attribution/closer: the teacher vs bystander``."""
    kind, colon, models = name.partition(": ")
    return kind + colon + plain(models, teacher)
