"""The report's charts as inline SVG strings (matplotlib, Agg backend): no files, no network, no JS.

Text stays text in the SVG (``svg.fonttype = none``), so the charts are small and searchable.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
"""No <metadata> block: it would only add RDF namespace URLs and a timestamp."""
COLORS = {"teacher": "#4c72b0", "model": "#dd8452", "baseline": "#8c8c8c"}
plt.rcParams.update(
    {"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}
)


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata=NO_METADATA)
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML


def bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    unit: str = "",
    percent: bool = False,
    roles: Sequence[str] | None = None,
) -> str:
    """One horizontal bar per label; a missing value is drawn as "n/a"."""
    fig, ax = plt.subplots(figsize=(5.2, 0.45 * len(labels) + 0.8))
    shown = [v if v is not None else 0.0 for v in values]
    colors = [COLORS.get(r, "#55a868") for r in (roles or labels)]
    ax.barh(range(len(labels)), [v * (100 if percent else 1) for v in shown], color=colors)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    for i, value in enumerate(values):
        text = "n/a" if value is None else (f"{100 * value:.1f}%" if percent else f"{value:,.3g}{unit}")
        ax.text((shown[i] * (100 if percent else 1)), i, " " + text, va="center")
    if percent:
        ax.set_xlim(0, 110)
    ax.set_title(title, loc="left")
    return _svg(fig)


def curve(
    title: str,
    series: dict[str, list[tuple[float, float]]],
    *,
    reference: float | None,
    reference_label: str,
    xlabel: str,
    ylabel: str,
) -> str:
    """Lines of (x, y) points per series on a log x axis, with a dashed reference level."""
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for name, points in sorted(series.items()):
        points = sorted(points)
        ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", label=name)
    if reference is not None:
        ax.axhline(100 * reference, linestyle="--", color=COLORS["teacher"], label=reference_label)
    if any(len(points) > 1 for points in series.values()):
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 105)
    ax.legend(frameon=False)
    ax.set_title(title, loc="left")
    return _svg(fig)
