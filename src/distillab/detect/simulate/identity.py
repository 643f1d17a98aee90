"""Who sends the traffic: accounts, their keys, addresses, user agents and billing metadata.

Names are random and drawn from one shared generator for honest and campaign accounts alike, so an
account's name, key or org never gives its label away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

MODELS = ("frontier-1", "frontier-1-mini")
BROWSERS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
        "Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
        "Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15"
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
        "Safari/537.36 Edg/126.0.2592.87"
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1"
    ),
)
APPS = (
    "ChatApp/4.12.1 (iPhone; iOS 17.5.1; Scale/3.00)",
    "ChatApp/4.11.0 (Linux; Android 14; Pixel 8)",
    "ChatApp/4.12.0 (Macintosh; macOS 14.5)",
    "ChatApp/4.10.3 (Windows 11)",
)
SDKS = (
    "OpenAI/Python 1.35.3",
    "OpenAI/Python 1.40.6",
    "OpenAI/JS 4.52.7",
    "python-httpx/0.27.0",
    "python-requests/2.31.0",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Go-http-client/2.0",
    "axios/1.7.2",
    "langchain-openai/0.1.20 OpenAI/Python 1.40.6",
)
IDES = (
    "vscode-assist/2.3.1 VSCode/1.91.1",
    "jetbrains-ai/1.4.0 PyCharm/2024.1.4",
    "continue-dev/0.8.43",
    "neovim-llm/0.3.2",
    "vscode-assist/2.2.9 VSCode/1.90.2",
)
EVALS = (
    "lm-eval-harness/0.4.3 OpenAI/Python 1.35.3",
    "helm/0.5.2 python-requests/2.31.0",
    "simple-evals/0.1 OpenAI/Python 1.40.6",
    "OpenAI/Python 1.40.6",
)
_HOME_NETS = (
    24,
    31,
    46,
    50,
    67,
    71,
    73,
    76,
    81,
    82,
    86,
    88,
    90,
    93,
    98,
    109,
    151,
    176,
    178,
    186,
    188,
    212,
    217,
)
_CLOUD_NETS = (3, 13, 18, 34, 35, 44, 52, 54, 104, 139, 143, 159, 164, 165, 167, 178, 188, 206)
_ORG_A = (
    "north",
    "blue",
    "bright",
    "iron",
    "silver",
    "quiet",
    "rapid",
    "clear",
    "deep",
    "open",
    "stone",
    "red",
    "green",
    "lumen",
    "delta",
    "alpine",
    "harbor",
    "cedar",
    "vector",
    "orbit",
)
_ORG_B = (
    "wind",
    "field",
    "peak",
    "path",
    "works",
    "labs",
    "logic",
    "bridge",
    "point",
    "forge",
    "grid",
    "wave",
    "line",
    "mind",
    "scale",
    "stack",
    "craft",
    "sight",
    "base",
    "flow",
)
_ORG_C = ("inc", "ltd", "gmbh", "ai", "analytics", "systems", "studio", "research", "group", "tech")


@dataclass
class Account:
    """One simulated account and how its requests look on the wire."""

    name: str
    label: str
    """`benign` or the campaign id (only ever written to the labels file)."""
    kind: str
    """The persona or campaign strategy."""
    keys: list[str]
    ips: list[str]
    ip_mode: str = "fixed"
    """fixed: ips[0]; daily: a different one of `ips` per day; pool: any of `ips` per request."""
    user_agents: list[str] = field(default_factory=list)
    org: str | None = None
    payment_id: str | None = None
    rpm_limit: float = 60.0
    """Requests past this in a minute get 429 (higher for the enterprise tier)."""
    ms_per_token: float = 20.0
    """How fast its answers stream (it varies with the account's region and load)."""

    def ip(self, r: Random, day: int) -> str:
        if self.ip_mode == "daily":
            return self.ips[day % len(self.ips)]
        if self.ip_mode == "pool":
            return self.ips[int(r.random() * len(self.ips))]
        return self.ips[0]

    def key(self, r: Random) -> str:
        return self.keys[0] if len(self.keys) == 1 or r.random() < 0.8 else r.choice(self.keys)

    def user_agent(self, r: Random) -> str:
        return (
            self.user_agents[0]
            if len(self.user_agents) == 1 or r.random() < 0.7
            else r.choice(self.user_agents)
        )


class Ids:
    """Unique account names, key ids, org names and payment ids from one generator."""

    def __init__(self, r: Random):
        self.r = r
        self.used: set[str] = set()

    def _unique(self, make: str, bits: int) -> str:
        while True:
            value = make.format(self.r.getrandbits(bits))
            if value not in self.used:
                self.used.add(value)
                return value

    def account(self) -> str:
        return self._unique("acct-{:08x}", 32)

    def key_id(self) -> str:
        return self._unique("{:012x}", 48)

    def payment(self) -> str:
        return self._unique("pm_{:014x}", 56)

    def org(self) -> str:
        r = self.r
        while True:
            name = f"{r.choice(_ORG_A)}{r.choice(_ORG_B)}-{r.choice(_ORG_C)}"
            if name not in self.used:
                self.used.add(name)
                return name


def home_ip(r: Random) -> str:
    return f"{r.choice(_HOME_NETS)}.{r.randint(1, 254)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def cloud_prefix(r: Random) -> str:
    """A /24 in a cloud provider's space, as "a.b.c"."""
    return f"{r.choice(_CLOUD_NETS)}.{r.randint(0, 255)}.{r.randint(0, 255)}"


def in_prefix(r: Random, prefix: str) -> str:
    return f"{prefix}.{r.randint(2, 254)}"
