"""Who sends the traffic: account, key, org and payment ids that never collide; the networks clients sit
behind (home ISPs, mobile carriers behind carrier-grade NAT, campuses, offices, clouds, and commercial
proxy/VPN exits that many unrelated clients share); and the user agents of common clients."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# First octets of address blocks of each kind (illustrative, not a geolocation database).
HOME = [24, 47, 68, 71, 73, 76, 81, 82, 86, 90, 92, 98, 109, 174, 176, 188, 189, 201]
MOBILE = [37, 39, 49, 117]
CLOUD = [3, 13, 18, 20, 34, 35, 52, 54, 104, 138, 143, 159]
PROXY = [45, 89, 91, 146, 185, 193, 194, 212]

SDKS = [
    "OpenAI/Python 1.54.3",
    "OpenAI/Python 1.58.1",
    "OpenAI/Python 1.61.0",
    "OpenAI/JS 4.77.0",
    "OpenAI/JS 4.80.1",
    "python-httpx/0.27.2",
    "python-requests/2.32.3",
    "axios/1.7.9",
    "Go-http-client/2.0",
    "curl/8.5.0",
]
CHAT_CLIENTS = ["LibreChat/0.7.5", "OpenWebUI/0.4.8", "TypingMind/2.1", "Chatbox/1.9.1", "Msty/1.4"]
FRAMEWORKS = ["langchain-openai/0.2.14", "llama-index/0.12.5", "haystack-ai/2.8.0", "OpenAI/Python 1.58.1"]


class Registry:
    """Unique opaque ids with a prefix: no id is handed out twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def new(self, prefix: str) -> str:
        while True:
            value = f"{prefix}{self.rng.getrandbits(48):012x}"
            if value not in self.used:
                self.used.add(value)
                return value


@dataclass
class Networks:
    """/24 prefixes ("a.b.c") of each kind, disjoint across kinds."""

    home: list[str]
    mobile: list[str]
    campus: list[str]
    cloud: list[str]
    proxy: list[str]
    office: list[str] = field(default_factory=list)
    _taken: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def build(cls, rng: random.Random, accounts: int, proxies: int) -> Networks:
        taken: set[str] = set()

        def draw(octets: list[int], count: int) -> list[str]:
            out: list[str] = []
            while len(out) < count:
                prefix = f"{rng.choice(octets)}.{rng.randrange(256)}.{rng.randrange(256)}"
                if prefix not in taken:
                    taken.add(prefix)
                    out.append(prefix)
            return out

        # Two unrelated customers rarely share a home or cloud /24 (ISPs and clouds have hundreds of
        # thousands); they often share a mobile carrier's NAT, a campus, or a commercial VPN's exits.
        return cls(
            home=draw(HOME, max(500, 3 * accounts)),
            mobile=draw(MOBILE, 6),
            campus=draw(HOME, 4),
            cloud=draw(CLOUD, max(200, 2 * accounts)),
            proxy=draw(PROXY, proxies),
            _taken=taken,
        )

    def new_office(self, rng: random.Random) -> str:
        """A company's own /24, not shared with anyone outside it."""
        while True:
            prefix = f"{rng.choice(HOME + CLOUD)}.{rng.randrange(256)}.{rng.randrange(256)}"
            if prefix not in self._taken:
                self._taken.add(prefix)
                self.office.append(prefix)
                return prefix


def host(rng: random.Random, prefix: str) -> str:
    return f"{prefix}.{rng.randint(2, 254)}"


def home_ipv6(rng: random.Random) -> str:
    a, b, c = rng.randrange(0x1000, 0xFFFF), rng.randrange(0x10, 0xFFFF), rng.randrange(1, 0xFFFF)
    return f"2a02:{a:x}:{b:x}::{c:x}"


def person_addresses(rng: random.Random, nets: Networks, *, vpn: float, campus: bool = False) -> list[str]:
    """Where one person connects from: home (or campus), now and then a phone, sometimes a VPN exit."""
    base = host(rng, rng.choice(nets.campus)) if campus else host(rng, rng.choice(nets.home))
    if rng.random() < 0.1:
        base = home_ipv6(rng)
    addresses = [base, base, base, host(rng, rng.choice(nets.mobile))]
    if rng.random() < vpn:
        exit_ = host(rng, rng.choice(nets.proxy))
        addresses = [exit_] * 4 + addresses[:1]  # a VPN user is mostly behind it
    return addresses
