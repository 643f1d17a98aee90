"""The evidence report: every test with its p-value in a self-contained page, JSON round trip, merging."""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from distillab.cli.main import main
from distillab.errors import DataError
from distillab.provenance.evidence import TestResult
from distillab.provenance.report import format_p, load_evidence, write_evidence


def _result(name: str, p: float, **extra: object) -> TestResult:
    return TestResult(
        name=name,
        question=f"Is <{name}> so?",
        null_hypothesis="nothing happened",
        method="a permutation test",
        assumptions=["samples are independent", "A & B <b>hold</b>"],
        sample_sizes={"prompts": 30, "permutations": 999},
        statistic=0.25,
        p_value=p,
        effect={"mmd2": 0.0123},
        details={"kernel": "hamming", "settings": {"L": 200}},
        **extra,
    )


class _Page(HTMLParser):
    """Collects the text of each test section and every reference to something outside the page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[list[str]] = []
        self.text: list[str] = []
        self.external: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "section":
            self.sections.append([])
        for name, value in attrs:
            outside = name in ("src", "href", "xlink:href", "data", "action") and value and value[0] != "#"
            if outside:
                self.external.append(f"{tag} {name}={value}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.sections:
            self.sections[-1].append(data)


def test_html_states_every_test_with_its_p_value_and_references_nothing_outside(tmp_path: Path) -> None:
    results = [
        _result("attribution/equality: runs/teacher", 0.001),
        _result("attribution/closer: a vs b", 0.42),
        _result("radioactivity/open", 3.2e-9, alpha=0.01),
    ]
    document = write_evidence(results, tmp_path, title="Was it distilled?")
    page = (tmp_path / "evidence.html").read_text()
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.external == [] and "script" not in parser.tags and "link" not in parser.tags
    assert "@import" not in page and not re.search(r"url\(", page)
    assert len(parser.sections) == 3
    for section, result in zip(parser.sections, results, strict=True):
        text = " ".join(" ".join(section).split())
        assert result.name in text and format_p(result.p_value) in text and result.verdict() in text
        assert "nothing happened" in text and "a permutation test" in text and "A & B <b>hold</b>" in text
        assert "999" in text and "mmd2" in text and "0.0123" in text
    full = " ".join(" ".join(parser.text).split())
    assert "How to read this" in full and "not the probability that the null hypothesis is true" in full
    assert "<b>hold</b>" not in page and "&lt;b&gt;hold&lt;/b&gt;" in page  # autoescaped
    assert [format_p(p) for p in (0.001, 0.42, 3.2e-9)] == ["0.001", "0.42", "3.2e-09"]
    assert json.loads((tmp_path / "evidence.json").read_text()) == document
    assert document["tests"][2]["significant"] and not document["tests"][1]["significant"]


def test_json_round_trip_and_merge_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = [_result("a", 0.5)], [_result("b", 0.01), _result("c", 1e-12)]
    write_evidence(first, tmp_path / "one")
    write_evidence(second, tmp_path / "two")
    assert load_evidence(tmp_path / "two") == second
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "distillab",
            "prove",
            "report",
            str(tmp_path / "one"),
            str(tmp_path / "two" / "evidence.json"),
            "--out",
            str(tmp_path / "all"),
        ],
    )
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0 and "3 tests" in capsys.readouterr().out
    assert load_evidence(tmp_path / "all") == first + second
    assert "1.0e-12" in (tmp_path / "all" / "evidence.html").read_text()
    (tmp_path / "bad.json").write_text('{"tests": [{"name": "x"}]}')
    with pytest.raises(DataError, match=r"bad.json: tests\[0\] is not a test result"):
        load_evidence(tmp_path / "bad.json")
    with pytest.raises(DataError, match="not found"):
        load_evidence(tmp_path / "missing")
