"""Checkers: each one's rule on hand-written cases, and clear errors for bad names and patterns."""

from __future__ import annotations

import pytest

from distillab.errors import ConfigError
from distillab.evaluate.verifiers import load_checker


def test_numeric_reads_the_final_answer() -> None:
    numeric = load_checker("numeric")
    assert numeric.check("12 + 7 = 19. 19 - 5 = 14. Answer: 14", "14")
    assert not numeric.check("12 + 7 = 19. Answer: 19. Then 14", "14")  # the answer line decides
    assert numeric.check("so it is 1,250.0", "1250") and numeric.check("-3", "-3.0")
    assert not numeric.check("no number here", "3")
    assert numeric.extract("Answer: 14.") == "14" and numeric.extract("nothing") is None


def test_exact_and_regex() -> None:
    exact = load_checker("exact")
    assert exact.check("The capital is... Answer:  Paris.", "paris")
    assert not exact.check("Answer: Lyon", "Paris")
    regex = load_checker("regex")
    assert regex.check("it was 1969, in July", r"\b19\d\d\b") and not regex.check("in July", r"\d{4}")


def test_python_callable_checker() -> None:
    same_length = load_checker("tests_checkers:same_length")
    assert same_length.check("abc", "xyz") and not same_length.check("ab", "xyz")


@pytest.mark.parametrize(
    "name, message",
    [
        ("fuzzy", "not one of exact, numeric, regex"),
        ("no_such_module_x:f", "cannot import"),
        ("tests_checkers:NOT_CALLABLE", "not callable"),
    ],
)
def test_bad_checker_names(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_checker(name)
