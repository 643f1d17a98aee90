"""The evaluation report: ``report.json`` (the numbers) and a self-contained ``report.html``.

The HTML is one file with inline CSS and inline SVG charts: it opens offline, references no network
resource, and can be mailed around. ``write_report`` writes both files atomically. ``combine`` joins
several runs' reports (e.g. students trained on different numbers of teacher queries) into one, which
adds the accuracy-vs-queries chart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, Undefined, select_autoescape

from distillab.atomic import write_text
from distillab.errors import DataError
from distillab.evaluate import plots

ROLE_NAMES = {"teacher": "teacher", "model": "student", "baseline": "baseline"}


def write_report(report: dict[str, Any], out: Path) -> None:
    """``out/report.json`` and ``out/report.html``."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_text(out / "report.html", render(report))


def load_report(path: Path) -> dict[str, Any]:
    """A report from a run directory or a report.json path."""
    file = path / "report.json" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"{file}: not found (expected the report.json of `distillab eval`)")
    try:
        report = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{file}: not valid JSON ({exc.msg})") from exc
    if not isinstance(report, dict) or "models" not in report:
        raise DataError(f"{file}: not a distillab eval report (no 'models')")
    report["source"] = str(file)
    return report


def combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report over several runs: each run's student becomes a point of the queries curve."""
    runs = []
    for report in reports:
        student = report["models"].get("model", {})
        harvest, training = report.get("harvest") or {}, report.get("training") or {}
        runs.append(
            {
                "source": report.get("source"),
                "model": student.get("name"),
                "accuracy": student.get("accuracy"),
                "queries": harvest.get("queries"),
                "loss": training.get("loss", "unknown"),
                "parameters": (student.get("size") or {}).get("parameters"),
                "top1_agreement": ((report.get("parity", {}).get("model") or {}).get("token") or {}).get(
                    "top1_agreement"
                ),
            }
        )
    teachers = [r["models"]["teacher"]["accuracy"] for r in reports if "teacher" in r["models"]]
    return {
        **reports[-1],
        "runs": runs,
        "teacher_accuracy": max((t for t in teachers if t is not None), default=None),
    }


def _fmt(value: Any, kind: str = "") -> str:
    if value is None or isinstance(value, Undefined):
        return "n/a"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "bytes":
        for unit in ("B", "KB", "MB", "GB", "TB"):
            if value < 1024 or unit == "TB":
                return f"{value:,.1f} {unit}" if unit != "B" else f"{value} B"
            value /= 1024
    if kind == "usd":
        return f"${value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _charts(report: dict[str, Any]) -> list[str]:
    models = report["models"]
    roles = [r for r in ("teacher", "model", "baseline") if r in models]
    labels = [f"{ROLE_NAMES[r]}" for r in roles]
    charts = []
    if report["task"].get("checker"):
        charts.append(
            plots.bars(
                f"Accuracy on {report['task']['name']}",
                labels,
                [models[r]["accuracy"] for r in roles],
                percent=True,
                roles=roles,
            )
        )
    parity = report.get("parity") or {}
    if parity:
        pr = [r for r in ("model", "baseline") if r in parity]
        charts.append(
            plots.bars(
                "Token top-1 agreement with the teacher",
                [ROLE_NAMES[r] for r in pr],
                [(parity[r].get("token") or {}).get("top1_agreement") for r in pr],
                percent=True,
                roles=pr,
            )
        )
    charts.append(
        plots.bars(
            "Parameters",
            labels,
            [(models[r].get("size") or {}).get("parameters") for r in roles],
            roles=roles,
        )
    )
    if any(models[r].get("speed") for r in roles):
        charts.append(
            plots.bars(
                "Generation speed (one request at a time)",
                labels,
                [(models[r].get("speed") or {}).get("tokens_per_s") for r in roles],
                unit=" tok/s",
                roles=roles,
            )
        )
    runs = report.get("runs") or []
    points: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        if run["queries"] and run["accuracy"] is not None:
            points.setdefault(str(run["loss"]), []).append((float(run["queries"]), float(run["accuracy"])))
    if points:
        charts.insert(
            0,
            plots.curve(
                "Student accuracy vs teacher queries",
                points,
                reference=report.get("teacher_accuracy"),
                reference_label="teacher",
                xlabel="teacher queries (prompts harvested)",
                ylabel="accuracy (%)",
            ),
        )
    return charts


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>distillab report: {{ task.name }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
  color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.charts svg { max-width: 460px; height: auto; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5em; margin: .2em 0; }
.note { color: #666; }
</style></head><body>
<h1>Student vs teacher: {{ task.name }}</h1>
<p class="note">{{ task.items }} items, checker {{ task.checker or "none (open-ended task)" }};
distillab {{ distillab_version }}, {{ created }}.</p>
<div class="charts">{% for chart in charts %}<div>{{ chart | safe }}</div>{% endfor %}</div>
<h2>Models</h2>
<table><tr><th></th><th>accuracy</th><th>reference loss</th><th>parameters</th><th>weights on disk</th>
<th>tokens/s</th><th>latency p50</th><th>latency p95</th></tr>
{% for role, m in models.items() %}<tr><td>{{ names[role] }}<br><span class="note">{{ m.name }}</span></td>
<td>{{ fmt(m.accuracy, "pct") }}</td><td>{{ fmt(m.reference_loss) }}</td><td>{{ fmt(m.size.parameters) }}</td>
<td>{{ fmt(m.size.disk_bytes, "bytes") }}</td>
<td>{{ fmt((m.speed or {}).tokens_per_s) }}</td><td>{{ fmt((m.speed or {}).latency_ms_p50) }} ms</td>
<td>{{ fmt((m.speed or {}).latency_ms_p95) }} ms</td></tr>
{% endfor %}</table>
{% if parity %}<h2>Agreement with the teacher</h2>
<table><tr><th></th><th>share of teacher accuracy</th><th>same final answer</th><th>token top-1 agreement</th>
<th>KL(teacher || model), nats/token</th><th>tokens compared</th>
<th>share of the teacher's gain over the baseline</th></tr>
{% for role, p in parity.items() %}<tr><td>{{ names[role] }}</td><td>{{ fmt(p.accuracy_ratio, "pct") }}</td>
<td>{{ fmt(p.answer_agreement, "pct") }}</td><td>{{ fmt(p.token.top1_agreement, "pct") }}</td>
<td>{{ fmt(p.token.kl) }}</td><td>{{ fmt(p.token.positions) }}</td>
<td>{{ fmt(p.share_of_teacher, "pct") }}</td></tr>
{% if p.token.note %}<tr><td colspan="7" class="note">{{ p.token.note }}</td></tr>{% endif %}
{% endfor %}</table>{% endif %}
{% if runs %}<h2>Runs</h2><table><tr><th>run</th><th>loss</th><th>teacher queries</th><th>accuracy</th>
<th>token agreement</th></tr>
{% for r in runs %}<tr><td>{{ r.model }}</td><td>{{ r.loss }}</td><td>{{ fmt(r.queries) }}</td>
<td>{{ fmt(r.accuracy, "pct") }}</td><td>{{ fmt(r.top1_agreement, "pct") }}</td></tr>{% endfor %}
</table>{% endif %}
{% if harvest or training %}<h2>Cost and provenance</h2><table>
{% if harvest %}<tr><td>teacher harvested</td><td>{{ harvest.teacher }} ({{ harvest.endpoint }})</td></tr>
<tr><td>teacher queries</td>
<td>{{ fmt(harvest.queries) }} prompts, {{ fmt(harvest.records) }} answers</td></tr>
<tr><td>tokens</td>
<td>{{ fmt(harvest.prompt_tokens) }} prompt, {{ fmt(harvest.completion_tokens) }} completion</td></tr>
<tr><td>harvest cost</td><td>{{ fmt(harvest.cost_usd, "usd") }}</td></tr>
<tr><td>signal</td><td>{{ harvest.signal }}</td></tr>
<tr><td>teacher terms</td><td>{{ harvest.terms or "not recorded" }}</td></tr>{% endif %}
{% if training %}<tr><td>training</td><td>{{ training.loss }} (KD weight {{ training.kd_weight }}),
{{ fmt(training.steps) }} steps, {{ fmt(training.tokens_seen) }} tokens,
{{ fmt(training.seconds) }} s</td></tr>{% endif %}
</table>{% endif %}
<h2>Examples</h2>
{% for e in examples %}<h3>{{ e.id }}</h3><pre>{{ e.prompt }}</pre>
{% if e.answer %}<p>expected answer: <b>{{ e.answer }}</b></p>{% endif %}
{% for role in models %}<p>{{ names[role] }}:</p><pre>{{ e[role] }}</pre>{% endfor %}
{% endfor %}
</body></html>
"""


def render(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    env = Environment(autoescape=select_autoescape(default=True))
    template = env.from_string(TEMPLATE)
    return template.render(
        **report, charts=_charts(report), names=ROLE_NAMES, fmt=_fmt, runs=report.get("runs") or []
    )
