"""The evidence report: ``evidence.json`` (every number) and a self-contained ``evidence.html``.

Both are written from `TestResult`s and nothing else, so every figure in the report comes from a run.
The HTML is one file with inline CSS, no scripts and no network references: it opens offline and can be
attached to an email or a filing. Every prove command writes both into its ``--out``;
``distillab prove report`` merges the ``evidence.json`` of several commands into one report.

    write_evidence(results, Path("runs/prove"), title="Was the suspect distilled from our model?")
    results = load_evidence(Path("runs/prove/evidence.json"))
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from distillab import __version__
from distillab.atomic import write_text
from distillab.errors import DataError
from distillab.provenance.evidence import TestResult

FORMAT_VERSION = 1
TITLE = "Evidence report"


def evidence_json(results: list[TestResult], *, title: str = TITLE) -> dict[str, Any]:
    """The report's JSON document."""
    return {
        "format_version": FORMAT_VERSION,
        "distillab_version": __version__,
        "title": title,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tests": [result.to_json() for result in results],
    }


def write_evidence(results: list[TestResult], out: Path, *, title: str = TITLE) -> dict[str, Any]:
    """``out/evidence.json`` and ``out/evidence.html``, each written atomically; returns the JSON document."""
    out.mkdir(parents=True, exist_ok=True)
    document = evidence_json(results, title=title)
    write_text(out / "evidence.json", json.dumps(document, indent=2, allow_nan=False) + "\n")
    write_text(out / "evidence.html", render(document))
    return document


def load_evidence(path: Path) -> list[TestResult]:
    """The tests of an ``evidence.json`` (or of the one in a prove command's output directory)."""
    file = path / "evidence.json" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"{file}: not found (expected the evidence.json a `distillab prove` command writes)")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{file}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("tests"), list):
        raise DataError(f"{file}: not a distillab evidence file (no 'tests' list)")
    names = {f.name for f in fields(TestResult)}
    results = []
    for index, test in enumerate(document["tests"]):
        try:
            results.append(TestResult(**{key: value for key, value in test.items() if key in names}))
        except (TypeError, AttributeError) as exc:
            raise DataError(f"{file}: tests[{index}] is not a test result ({exc})") from exc
    return results


def format_p(p: float) -> str:
    """A p-value as people write it: 0.032, 0.0041, 1.2e-07; never rounded to 0."""
    if not math.isfinite(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def format_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3g}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>distillab: {{ title }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .8em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
section.test { border-top: 2px solid #ccc; margin-top: 1.5em; }
.yes { color: #b00; font-weight: bold; } .no { color: #333; } .note { color: #666; }
dt { font-weight: bold; margin-top: .6em; } dd { margin-left: 1.2em; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="note">{{ tests|length }} statistical test{{ "" if tests|length == 1 else "s" }};
distillab {{ distillab_version }}, {{ created }}.</p>
<h2>Summary</h2>
<table><tr><th>test</th><th>question</th><th>p-value</th><th>level</th><th>outcome</th></tr>
{% for t in tests %}<tr><td><a href="#test-{{ loop.index }}">{{ t.name }}</a></td><td>{{ t.question }}</td>
<td class="num">{{ p(t.p_value) }}</td><td class="num">{{ t.alpha }}</td>
<td class="{{ 'yes' if t.significant else 'no' }}">
{{- "significant" if t.significant else "not significant" }}</td></tr>
{% endfor %}</table>
<h2>How to read this</h2>
<p>Each test below starts from a <b>null hypothesis</b>: the innocent explanation (for example, "the suspect
never saw our outputs"). The <b>p-value</b> is the probability of seeing data at least as extreme as what
was observed <i>if the null hypothesis were true</i>. A small p-value (below the chosen level, usually
0.05) means the data would be surprising under the innocent explanation, so the test calls the result
<b>significant</b>.</p>
<ul>
<li>A p-value is <b>not</b> the probability that the null hypothesis is true, nor the probability that the
suspect is innocent or guilty.</li>
<li>A large p-value does <b>not</b> prove the null hypothesis: it can also mean there was too little
data to see a difference. Look at the sample sizes.</li>
<li>A p-value is only as good as its <b>assumptions</b>; each test lists them. If an assumption fails,
the p-value may be wrong.</li>
<li>The <b>effect sizes</b> say how large a difference is; the p-value only says whether it is larger
than chance would produce. With much data, tiny differences become significant.</li>
<li>Running many tests makes some small p-values likely by chance alone: with 20 tests at level 0.05,
one false alarm is expected. Judge the tests together, and count how many were run.</li>
</ul>
{% for t in tests %}<section class="test" id="test-{{ loop.index }}">
<h2>{{ loop.index }}. {{ t.name }}</h2>
<p><b>Question.</b> {{ t.question }}</p>
<p class="{{ 'yes' if t.significant else 'no' }}">{{ t.verdict }}</p>
<dl>
<dt>Null hypothesis</dt><dd>{{ t.null_hypothesis }}</dd>
<dt>Method</dt><dd>{{ t.method }}</dd>
<dt>Assumptions</dt><dd><ul>{% for a in t.assumptions %}<li>{{ a }}</li>{% endfor %}</ul></dd>
</dl>
<table><tr><th colspan="2">Result</th></tr>
<tr><td>statistic</td><td class="num">{{ num(t.statistic) }}</td></tr>
<tr><td>p-value</td><td class="num">{{ p(t.p_value) }}</td></tr>
<tr><td>significance level</td><td class="num">{{ t.alpha }}</td></tr>
{% for key, value in t.effect.items() %}
<tr><td>{{ key }}</td><td class="num">{{ num(value) }}</td></tr>{% endfor %}
</table>
<table><tr><th colspan="2">Sample sizes</th></tr>
{% for key, value in t.sample_sizes.items() %}
<tr><td>{{ key }}</td><td class="num">{{ num(value) }}</td></tr>{% endfor %}
</table>
{% if t.details %}<table><tr><th colspan="2">Details</th></tr>
{% for key, value in t.details.items() %}<tr><td>{{ key }}</td><td>{{ detail(value) }}</td></tr>{% endfor %}
</table>{% endif %}
</section>
{% endfor %}
</body></html>
"""


def _detail(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return format_number(value)


def render(document: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    env = Environment(autoescape=select_autoescape(default=True))
    return env.from_string(TEMPLATE).render(**document, p=format_p, num=format_number, detail=_detail)
