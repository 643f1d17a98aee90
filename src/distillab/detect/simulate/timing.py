"""When accounts send requests: human sessions over the day, and scripted pacing under a rate limit.

All times here are seconds from the start of the simulated period (numpy float64, sorted); the caller
adds the start epoch. Each function takes the account's own `numpy.random.Generator`.
"""

from __future__ import annotations

import math

import numpy as np

DAY = 86400.0
HUMAN_HOURS = np.array(
    [
        0.3,
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.0,
        1.5,
        1.9,
        2.0,
        2.0,
        1.7,
        1.9,
        2.0,
        2.0,
        1.8,
        1.6,
        1.4,
        1.6,
        1.8,
        1.6,
        1.1,
        0.6,
    ]
)
"""Relative activity by local hour of a person using a chat assistant (evenings included)."""
WORK_HOURS = np.array(
    [
        0.05,
        0.02,
        0.02,
        0.02,
        0.02,
        0.05,
        0.2,
        0.8,
        2.0,
        2.6,
        2.7,
        2.4,
        1.6,
        2.3,
        2.6,
        2.5,
        2.2,
        1.4,
        0.6,
        0.3,
        0.2,
        0.15,
        0.1,
        0.05,
    ]
)
"""Relative activity by local hour of someone at work."""
TIMEZONES = (-8.0, -7.0, -5.0, -3.0, 0.0, 1.0, 2.0, 3.0, 5.5, 8.0, 9.0, 10.0)


def _weekday(start: float, rel: np.ndarray) -> np.ndarray:
    """0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday)."""
    return ((np.floor((start + rel) / DAY) + 3) % 7).astype(np.int64)


def sessions(
    g: np.random.Generator,
    *,
    start: float,
    days: float,
    per_day: float,
    hours: np.ndarray,
    weekend: float,
    tz: float,
    turns_mean: float,
    gap_s: float,
) -> np.ndarray:
    """A person's requests: sessions starting at local hours drawn from `hours`, each a few turns apart.

    `per_day` is the mean number of requests on a weekday; `weekend` scales weekend days; turns per
    session are geometric with mean `turns_mean`, and the gaps between turns log-normal around `gap_s`.
    """
    n_days = math.ceil(days)
    n = int(g.poisson(per_day / turns_mean * n_days))
    local = (
        g.integers(0, n_days, n) * DAY
        + g.choice(24, size=n, p=hours / hours.sum()) * 3600.0
        + g.random(n) * 3600.0
    )
    begin = local - tz * 3600.0
    keep = g.random(n) < np.where(_weekday(start, begin) >= 5, weekend, 1.0)
    begin = begin[keep]
    return clip(chains(g, begin, g.geometric(1.0 / turns_mean, begin.size), gap_s), days)


def chains(
    g: np.random.Generator, begin: np.ndarray, turns: np.ndarray, gap_s: float, sigma: float = 0.7
) -> np.ndarray:
    """`turns[i]` requests from `begin[i]` on, log-normal gaps around `gap_s` apart (unsorted)."""
    gaps = g.lognormal(math.log(gap_s), sigma, int(turns.sum()))
    first = np.cumsum(turns) - turns
    first = first[turns > 0]
    gaps[first] = 0.0
    total = np.cumsum(gaps)
    return np.repeat(begin, turns) + total - np.repeat(total[first], turns[turns > 0])


def clip(times: np.ndarray, days: float) -> np.ndarray:
    """Sorted, inside [0, days)."""
    return np.sort(times[(times >= 0) & (times < days * DAY)])


def paced(g: np.random.Generator, count: int, windows: np.ndarray, min_gap: float) -> np.ndarray:
    """`count` requests spread over `windows` ((start, end) rows, sorted, disjoint) with random gaps.

    Consecutive requests are at least `min_gap` seconds apart, so a rate limit above 60 / min_gap per
    minute is never reached. Fewer are returned when the windows cannot hold `count` at that spacing.
    """
    if count <= 0 or windows.size == 0:
        return np.empty(0)
    lengths = windows[:, 1] - windows[:, 0]
    total = float(lengths.sum())
    count = min(count, int(total / min_gap))
    if count <= 0:
        return np.empty(0)
    slack = total - count * min_gap
    extra = g.exponential(1.0, count + 1) * g.lognormal(0.0, 0.5, count + 1)  # bursty, not metronomic
    extra *= slack / extra.sum()
    active = np.cumsum(extra[:-1]) + np.arange(count) * min_gap
    ends = np.cumsum(lengths)
    which = np.minimum(np.searchsorted(ends, active, side="right"), len(windows) - 1)
    return windows[which, 0] + active - (ends[which] - lengths[which])


def daily_windows(
    g: np.random.Generator,
    *,
    days: float,
    tz: float,
    first_hour: tuple[float, float],
    length_h: tuple[float, float],
    per_day: int = 1,
    every_day: bool = True,
) -> np.ndarray:
    """Active periods: `per_day` windows a day (some days skipped unless `every_day`), clipped to
    the period."""
    rows = []
    for day in range(math.ceil(days)):
        if not every_day and g.random() < 0.25:
            continue
        for _ in range(per_day):
            begin = day * DAY + (g.uniform(*first_hour) - tz) * 3600.0
            rows.append((begin, begin + g.uniform(*length_h) * 3600.0))
    return merge(np.array(rows).reshape(-1, 2), days)


def merge(rows: np.ndarray, days: float) -> np.ndarray:
    """Sorted, non-overlapping windows inside [0, days)."""
    rows = np.clip(rows, 0.0, days * DAY)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    merged: list[list[float]] = []
    for begin, end in rows:
        if end <= begin:
            continue
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return np.array(merged, dtype=np.float64).reshape(-1, 2)


def trim(windows: np.ndarray, seconds: float) -> np.ndarray:
    """The same windows, each shortened in proportion so that together they last at most `seconds`."""
    total = float((windows[:, 1] - windows[:, 0]).sum()) if windows.size else 0.0
    if total <= seconds:
        return windows
    out = windows.copy()
    out[:, 1] = out[:, 0] + (out[:, 1] - out[:, 0]) * (seconds / total)
    return out


def over_limit(times: np.ndarray, rpm: float) -> np.ndarray:
    """True where a request is past `rpm` within the 60 seconds up to and including it (a 429)."""
    in_window = np.arange(times.size) - np.searchsorted(times, times - 60.0, side="right") + 1
    return in_window > rpm
