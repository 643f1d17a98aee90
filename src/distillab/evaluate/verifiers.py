"""Answer checkers: does a completion answer a task item correctly, and what final answer did it give?

A checker is named on the command line (``--checker``):

- ``exact``: the completion's final answer (the text after the last ``Answer:``, else the whole
  completion), whitespace-normalised and case-folded, equals the item's ``answer``;
- ``numeric``: the completion's final answer as a number (the first number after the last
  ``Answer:``, else its last number) equals the item's ``answer`` (relative tolerance 1e-6);
- ``regex``: the item's ``answer`` is a regular expression that must match the completion;
- ``module:function``: any importable Python callable ``f(completion: str, answer: str) -> bool``.

``extract`` gives the final answer a completion commits to, so two models' answers can be compared
("final-answer agreement") even where neither is right.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from distillab.errors import ConfigError

BUILTIN = ("exact", "numeric", "regex")
_ANSWER = re.compile(r"answer\s*[:=]\s*(.*)", re.IGNORECASE | re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def final_text(completion: str) -> str:
    """The text after the last ``Answer:`` (whole completion when absent), whitespace-normalised."""
    matches = list(_ANSWER.finditer(completion))
    text = matches[-1].group(1) if matches else completion
    return " ".join(text.split()).rstrip(".").casefold()


def final_number(completion: str) -> float | None:
    """The first number after the last ``Answer:``; without one, the completion's last number; or None."""
    matches = list(_ANSWER.finditer(completion))
    after = _NUMBER.findall(matches[-1].group(1)) if matches else []
    numbers = after[:1] or _NUMBER.findall(completion)[-1:]
    return float(numbers[0].replace(",", "")) if numbers else None


def _numeric(completion: str, answer: str) -> bool:
    got, want = final_number(completion), final_number(answer)
    return got is not None and want is not None and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)


@dataclass(frozen=True)
class Checker:
    """A named checker: ``check(completion, answer)`` and ``extract(completion)``."""

    name: str
    check: Callable[[str, str], bool]
    extract: Callable[[str], str | None]


def _format_number(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def load_checker(name: str) -> Checker:
    """The checker called ``name``: a built-in one or ``module:function``."""
    if name == "exact":
        return Checker(name, lambda c, a: final_text(c) == final_text(a), final_text)
    if name == "numeric":
        return Checker(name, _numeric, lambda c: _format_number(final_number(c)))
    if name == "regex":
        return Checker(name, lambda c, a: re.search(a, c) is not None, final_text)
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"checker: {name!r} is not one of {', '.join(BUILTIN)} or module:function")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"checker: cannot import {name!r} ({exc})") from exc
    if not callable(function):
        raise ConfigError(f"checker: {name!r} is not callable")
    return Checker(name, lambda c, a: bool(function(c, a)), final_text)


def check_regex(pattern: str, where: str) -> None:
    """Reject an item whose ``answer`` is not a valid regular expression, naming where it is."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: answer {pattern!r} is not a valid regular expression ({exc})") from exc
