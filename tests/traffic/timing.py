"""When requests happen: local-time activity profiles, human sessions, scripted sessions paced under a
rate limit, and the per-minute limit itself (requests over it get 429)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

DAY = 86_400.0
HOUR = 3_600.0


def _hours(weights: str) -> list[float]:
    values = [float(w) for w in weights.split()]
    assert len(values) == 24
    return values


# Relative activity per local hour, 00-23.
PROFILES: dict[str, list[float]] = {
    # people on their own time: a little at lunch, most in the evening
    "evening": _hours("2 1 .5 .3 .2 .3 1 2 3 3 3 4 5 4 3 3 4 5 7 9 10 9 7 4"),
    # people at work
    "office": _hours(".2 .1 .1 .1 .1 .2 .5 2 6 9 10 9 6 8 10 9 8 5 2 1 .8 .6 .4 .3"),
    # students: afternoons and late evenings
    "student": _hours("5 3 1 .5 .2 .2 .5 1 2 3 3 4 4 5 6 7 7 6 7 8 9 9 8 7"),
    # an app with users everywhere, summed: mild swing around the clock
    "global": _hours("6 6 5 5 5 5 6 7 8 9 9 10 10 10 10 10 9 9 9 9 8 8 7 7"),
    # an operator's shift: scripts started in the morning, watched until late
    "shift": _hours("1 .5 .5 .5 .5 .5 1 3 6 8 9 9 9 9 9 9 9 8 8 8 7 6 4 2"),
}

WEEKEND: dict[str, float] = {"evening": 1.2, "office": 0.15, "student": 0.8, "global": 1.0, "shift": 0.9}

TIMEZONES = [(-8, 12), (-5, 20), (-3, 5), (0, 10), (1, 18), (2, 5), (5.5, 10), (8, 8), (9, 7), (10, 5)]


@dataclass(frozen=True)
class Window:
    """The log's time span; `start` is a Monday 00:00 UTC."""

    start: float
    days: int

    @property
    def end(self) -> float:
        return self.start + self.days * DAY


def timezone(rng: random.Random) -> float:
    offsets, weights = zip(*TIMEZONES)
    return rng.choices(offsets, weights)[0]


def active_days(rng: random.Random, window: Window, profile: str, rate: float) -> list[int]:
    """The days an account is active: each with probability `rate`, scaled down or up at weekends."""
    days = []
    for day in range(window.days):
        weekend = day % 7 >= 5
        if rng.random() < min(1.0, rate * (WEEKEND[profile] if weekend else 1.0)):
            days.append(day)
    return days


def start_time(rng: random.Random, window: Window, day: int, tz: float, profile: str) -> float:
    """A moment on local `day` (of an account in UTC offset `tz`), drawn from the profile's hours. It may
    fall outside the window (local days are offset from UTC ones): the log keeps only what falls inside."""
    hour = rng.choices(range(24), PROFILES[profile])[0]
    return window.start + day * DAY + (hour - tz) * HOUR + rng.random() * HOUR


def human(rng: random.Random, start: float, count: int, median_gap: float) -> list[float]:
    """`count` request times of a person: think times are log-normal around `median_gap` seconds."""
    times, t = [], start
    for _ in range(count):
        times.append(t)
        t += median_gap * math.exp(rng.gauss(0.0, 0.8))
    return times


def paced(rng: random.Random, start: float, count: int, rpm: float, jitter: float = 0.08) -> list[float]:
    """`count` request times of a script sending `rpm` requests a minute, with small jitter."""
    gap = 60.0 / rpm
    times, t = [], start
    for _ in range(count):
        times.append(t)
        t += max(0.05, gap * (1.0 + rng.gauss(0.0, jitter)))
    return times


def over_limit(times: np.ndarray, rpm: float) -> np.ndarray:
    """Which of an account's (sorted) requests exceed `rpm` in the 60 s before them: those get 429.
    Rejected requests count too, as a sliding-window limiter sees every attempt."""
    if not len(times):
        return np.zeros(0, bool)
    first = np.searchsorted(times, times - 60.0, side="right")
    return (np.arange(len(times)) - first + 1) > rpm


def log_normal(rng: random.Random, median: float, sigma: float, low: int = 1, high: int = 1_000_000) -> int:
    return int(min(high, max(low, round(median * math.exp(rng.gauss(0.0, sigma))))))
