"""The contest report's charts as inline SVG strings, written by hand: no files, no scripts, no fonts to load.

    line_chart({"off": [(30, 0.4), (60, 0.7)]}, [Reference("teacher", 0.9)], title="Accuracy",
               xlabel="answers", ylabel="accuracy")
    step_chart({"campaign": [1.9, 2.4]}, x_max=6.0, y_max=6, title="Flags", xlabel="s", ylabel="accounts")

Each chart has its legend, with the values, in its right margin, so lines drawn on top of each other stay
readable. Every label is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 190, 16, 44
"""Margins around the plot area; the legend lives in the right one."""
SERIES_COLORS = ("#c0392b", "#2e86c1", "#d68910", "#7d3c98", "#17a589")
REFERENCE_COLORS = ("#1f3a93", "#27ae60", "#7f8c8d", "#a04000")
DASH = "6 4"
Format = Callable[[float], str]


@dataclass(frozen=True)
class Reference:
    """A dashed horizontal line across the chart at `value`; left out when the value is missing."""

    label: str
    value: float | None


def ticks(top: float, *, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values from 0 to at least `top`, about `count` steps apart."""
    top = top if top > 0 else 1.0
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    return [round(i * step, 10) for i in range(math.ceil(top / step - 1e-9) + 1)]


def percent(value: float) -> str:
    return f"{100 * value:.0f}%" if abs(100 * value - round(100 * value)) < 1e-9 else f"{100 * value:.1f}%"


def plain(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


class _Frame:
    """Maps data to pixels, and draws the axes, the grid and the tick labels."""

    def __init__(self, x_ticks: list[float], y_ticks: list[float]) -> None:
        self.x_ticks, self.y_ticks = x_ticks, y_ticks

    def x(self, value: float) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * value / self.x_ticks[-1], 1)

    def y(self, value: float) -> float:
        return round(HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / self.y_ticks[-1], 1)

    def axes(self, xlabel: str, ylabel: str, fmt_x: Format, fmt_y: Format) -> str:
        right, bottom, middle = WIDTH - RIGHT, HEIGHT - BOTTOM, (TOP + HEIGHT - BOTTOM) / 2
        parts = [
            f'<line x1="{LEFT}" x2="{right}" y1="{self.y(t)}" y2="{self.y(t)}" stroke="#e5e5e5"/>'
            + _text(LEFT - 6, self.y(t) + 4, fmt_y(t), anchor="end")
            for t in self.y_ticks
        ]
        parts += [_text(self.x(t), bottom + 16, fmt_x(t)) for t in self.x_ticks]
        parts += [
            f'<line x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#333"/>',
            f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="#333"/>',
            _text((LEFT + right) / 2, HEIGHT - 8, xlabel),
            _text(14, middle, ylabel, rotate=True),
        ]
        return "".join(parts)


def _text(x: float, y: float, label: str, *, anchor: str = "middle", rotate: bool = False) -> str:
    turn = f' transform="rotate(-90 {x} {y})"' if rotate else ""
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}"{turn}>{escape(label)}</text>'


def _polyline(points: list[tuple[float, float]], color: str, dash: str = "") -> str:
    pattern = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline fill="none" stroke="{color}" stroke-width="2"{pattern} '
        f'points="{" ".join(f"{x},{y}" for x, y in points)}"/>'
    )


def _legend(entries: list[tuple[str, str, str]]) -> str:
    """(label, color, dash pattern) per entry, stacked in the right margin."""
    x = WIDTH - RIGHT + 14
    return "".join(
        _polyline([(x, TOP + 10 + 18 * i), (x + 22, TOP + 10 + 18 * i)], color, dash)
        + _text(x + 28, TOP + 14 + 18 * i, label, anchor="start")
        for i, (label, color, dash) in enumerate(entries)
    )


def _svg(title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" '
        f'font-size="11"><title>{escape(title)}</title>{body}</svg>'
    )


def line_chart(
    series: dict[str, list[tuple[float, float]]],
    references: list[Reference],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
) -> str:
    """A line with point markers per series (y: a share in [0, 1], shown in %) and dashed reference levels."""
    levels = [(r.label, r.value) for r in references if r.value is not None]
    x_top = max((x for points in series.values() for x, _ in points), default=1.0)
    y_values = [y for points in series.values() for _, y in points] + [value for _, value in levels]
    y_top = max(y_values, default=0.0)
    frame = _Frame(ticks(x_top), [t for t in ticks(min(1.0, 1.05 * y_top)) if t <= 1.0 + 1e-9])
    parts, legend = [frame.axes(xlabel, ylabel, plain, percent)], []
    for i, (name, points) in enumerate(series.items()):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        xy = [(frame.x(x), frame.y(y)) for x, y in sorted(points)]
        parts.append(_polyline(xy, color))
        parts += [f'<circle cx="{x}" cy="{y}" r="{4 - i % 2}" fill="{color}"/>' for x, y in xy]
        legend.append((name, color, ""))
    for i, (label, value) in enumerate(levels):
        color = REFERENCE_COLORS[i % len(REFERENCE_COLORS)]
        parts.append(_polyline([(LEFT, frame.y(value)), (WIDTH - RIGHT, frame.y(value))], color, DASH))
        legend.append((f"{label} {100 * value:.1f}%", color, DASH))
    return _svg(title, "".join(parts) + _legend(legend))


def step_chart(
    series: dict[str, list[float]], *, x_max: float, y_max: int, title: str, xlabel: str, ylabel: str
) -> str:
    """A cumulative count per series over x: each value of a series is the x at which one more was counted."""
    x_top = max([x_max] + [t for times in series.values() for t in times])
    y_top = max([y_max] + [len(times) for times in series.values()])
    frame = _Frame(ticks(x_top), ticks(y_top, integer=True))
    parts, legend = [frame.axes(xlabel, ylabel, plain, plain)], []
    for i, (name, times) in enumerate(series.items()):
        color, points = SERIES_COLORS[i % len(SERIES_COLORS)], [(frame.x(0), frame.y(0))]
        for count, t in enumerate(sorted(times)):
            points += [(frame.x(t), frame.y(count)), (frame.x(t), frame.y(count + 1))]
        points.append((frame.x(frame.x_ticks[-1]), frame.y(len(times))))
        parts.append(_polyline(points, color))
        legend.append((f"{name}: {len(times)}", color, ""))
    return _svg(title, "".join(parts) + _legend(legend))
