"""The shared setting every persona and campaign is built in: the period, the id generator, the proxies,
and one independent random stream per named thing (so adding an account never changes another's traffic)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from random import Random

import numpy as np

from distillab.detect.simulate.config import SimulateConfig
from distillab.detect.simulate.identity import BROWSERS, Ids

EPOCH = 1_735_689_600.0
"""2025-01-01T00:00:00Z; the simulated period starts seed % 365 days later, at midnight UTC."""


@dataclass
class Proxy:
    """A shared egress (a big company's or a co-working space's NAT): one /24, one managed browser build."""

    prefix: str
    user_agent: str
    tz: float


@dataclass
class World:
    config: SimulateConfig
    ids: Ids = field(init=False)
    start: float = field(init=False)
    proxies: list[Proxy] = field(init=False)

    def __post_init__(self) -> None:
        r = self.random("world")
        self.ids = Ids(self.random("ids"))
        self.start = EPOCH + (self.config.seed % 365) * 86400.0
        self.proxies = [
            Proxy(
                f"{r.choice((62, 80, 85, 193, 194, 195))}.{r.randint(0, 255)}.{r.randint(0, 255)}",
                BROWSERS[i],
                tz,
            )
            for i, tz in enumerate((1.0, -5.0))
        ]

    @property
    def days(self) -> float:
        return self.config.days

    @property
    def min_gap(self) -> float:
        """Seconds between a campaign account's requests: keeps it under `rate_limit_rpm` with margin."""
        return 60.0 / self.config.rate_limit_rpm * 1.02

    def random(self, name: str) -> Random:
        return Random(f"{self.config.seed}:{name}")

    def numpy(self, name: str) -> np.random.Generator:
        digest = hashlib.sha256(f"{self.config.seed}:{name}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))
