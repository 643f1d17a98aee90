"""The detection report: one self-contained HTML page (no scripts, no network)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, StrictUndefined, select_autoescape

from distillab.detect.result import DetectSummary

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>distillab detect</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
  color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
.flag { color: #b00; font-weight: bold; } .note { color: #666; }
</style></head><body>
<h1>Distillation campaign detection</h1>
<p>{{ s.requests }} requests from {{ s.accounts }} accounts in {{ s.log }}; calibrated on {{ s.reference }}
({{ s.reference_units }} reference units). Flags need p &le; {{ s.target_fpr }} (false-positive rate on honest
accounts) and a Benjamini-Hochberg q &le; {{ s.fdr }}. Behavioural linking compared prompts by
{{ "all-MiniLM-L6-v2 sentence embeddings" if s.embedder == "minilm" else "lexical embeddings (no model)" }}.
</p>
{% for note in s.notes %}<p class="note">Note: {{ note }}</p>{% endfor %}
{% if s.certification and not s.certification.certifiable %}<p class="note">By ranks alone, at
{{ "%.2g"|format(s.certification.smallest_certifiable_fpr) }} (the smallest rate the reference certifies),
{{ s.certification.flagged_at_smallest }} accounts would be flagged{% if s.certification.tail %};
{{ s.certification.flagged_from_tail }} of the flags at {{ s.target_fpr }} rest on the fitted tail{% endif %}.
</p>{% endif %}
<p><b>{{ s.flagged_accounts }}</b> accounts flagged; <b>{{ s.flagged_groups }}</b> of {{ s.groups }} linked
groups flagged.</p>
{% if s.metrics %}<h2>Against the labels</h2><table>
<tr><td>precision</td><td>{{ pct(s.metrics.precision) }}</td></tr>
<tr><td>recall (campaign accounts flagged)</td><td>{{ pct(s.metrics.recall) }}</td></tr>
<tr><td>false-positive rate on honest accounts</td>
<td>{{ pct(s.metrics.honest_false_positive_rate) }}</td></tr>
<tr><td>campaigns detected</td>
<td>{{ s.metrics.campaigns_detected }} of {{ s.metrics.campaigns|length }}</td></tr>
</table>{% endif %}
<h2>Linked groups</h2><table><tr><th>group</th><th>accounts</th><th>requests</th><th>p</th><th>q</th>
<th>why unusual</th><th>linked by</th></tr>
{% for g in groups[:50] %}<tr><td {% if g.flagged %}class="flag"{% endif %}>{{ g.id }}</td>
<td>{{ g.members|length }}: {{ g.members[:8]|join(", ") }}{% if g.members|length > 8 %}, ...{% endif %}</td>
<td>{{ g.requests }}</td><td>{{ "%.2g"|format(g.p_value) }}</td><td>{{ "%.2g"|format(g.q_value) }}</td>
<td>{{ g.reasons|join("; ") }}</td><td>{{ g.linked_by|join("; ") }}</td></tr>{% endfor %}</table>
<h2>Accounts (most unusual first)</h2><table><tr><th>account</th><th>requests</th><th>behaviour</th>
<th>p</th><th>q</th><th>flagged</th><th>why</th></tr>
{% for a in accounts[:200] %}<tr><td {% if a.flagged %}class="flag"{% endif %}>{{ a.account }}</td>
<td>{{ a.requests }}</td><td>{{ a.behaviour }}</td>
<td>{{ "%.2g"|format(a.p_value) }}{% if a.p_from_tail %} (tail){% endif %}</td>
<td>{{ "%.2g"|format(a.q_value) }}</td>
<td>{{ a.flagged_by or "" }}</td><td>{{ a.reasons|join("; ") }}</td></tr>{% endfor %}</table>
</body></html>
"""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def render(summary: DetectSummary, accounts: list[dict[str, Any]], groups: list[dict[str, Any]]) -> str:
    # Strict: a misspelt field fails the render (and the tests) instead of printing nothing.
    env = Environment(autoescape=select_autoescape(default=True), undefined=StrictUndefined)
    ordered = sorted(groups, key=lambda g: g["p_value"])
    return env.from_string(TEMPLATE).render(s=summary, accounts=accounts, groups=ordered, pct=_pct)
