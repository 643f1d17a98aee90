"""Indicator files: flagged campaigns described so that another provider can recognise them, with no
prompts, accounts or addresses in them; and matching traffic against them.

An indicator (one per flagged campaign: a linked group, or an account flagged on its own traffic)
holds keyed MinHash signatures of the campaign's prompt templates (`distillab.detect.templates`),
keyed hashes of its network prefixes and user agents, and its behaviour profile (the detector's
feature values, rounded). Every hash is keyed with a sharing key the two providers agree on: an
unkeyed hash of an IPv4 /24 is reversed by hashing all 2**24 prefixes, and a user agent or a short
instruction by hashing a list of candidates, so without the key the file must be useless. The file
carries a check value of the key (HMAC of a constant), so a wrong key is refused instead of matching
nothing. The format is in docs/data-formats.md; `indicator_export.export_indicators` writes it.

    index = IndicatorIndex.load("campaigns.indicators.json", read_key("sharing.key"))
    tally = IndicatorTally(index, min_requests=5)
    tally.add(account, text, prefix, user_agent)          # per request (or add_record / add_columns)
    tally.flagged()                                        # {account: (indicator id, reason)}

A request matches an indicator when its template signature is within the file's Jaccard threshold of
one of the indicator's templates (candidates from MinHash LSH, then the signatures compared). A shared
network prefix or user agent is supporting evidence, named in the reason, and never matches alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distillab.detect.logs import Columns
from distillab.detect.record import request_fields
from distillab.detect.templates import EDGE, NUM_PERM, SCHEME, SEED, Signer, TemplateIndex
from distillab.errors import ConfigError, DataError

FORMAT = "distillab-indicators"
VERSION = 1
THRESHOLD = 0.5
"""Default Jaccard similarity at which a prompt matches a template."""
_CHECK = b"distillab-indicators key check"


def read_key(path: str | Path) -> bytes:
    """The sharing key in a file (its bytes, surrounding whitespace stripped): at least 16 bytes."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"indicator key file {path}: {exc.strerror or exc}") from None
    if len(key) < 16:
        raise ConfigError(
            f"indicator key file {path}: the key must have at least 16 bytes (got {len(key)}); "
            "make one with `openssl rand -hex 32 > sharing.key`"
        )
    return key


def key_check(key: bytes) -> str:
    """A value that tells whether two parties hold the same key, and nothing else about it."""
    return hmac.new(key, _CHECK, hashlib.sha256).hexdigest()[:16]


def keyed(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of `kind` and `value` (a network prefix, a user agent), 128 bits in hex."""
    return hmac.new(key, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()[:32]


def encode_signature(signature: np.ndarray) -> str:
    return np.asarray(signature, "<u8").tobytes().hex()


def decode_signature(text: str, where: str) -> np.ndarray:
    try:
        values = np.frombuffer(bytes.fromhex(text), "<u8").astype(np.uint64)
    except (TypeError, ValueError):
        values = np.zeros(0, np.uint64)
    if len(values) != NUM_PERM:
        raise DataError(f"{where}: a signature must be {NUM_PERM} little-endian uint64 values in hex")
    return values


def header(key: bytes, threshold: float) -> dict[str, Any]:
    """Everything in a file but its indicators."""
    return {
        "format": FORMAT,
        "format_version": VERSION,
        "key_check": key_check(key),
        "minhash": {
            "library": "datasketch",
            "scheme": SCHEME,
            "num_perm": NUM_PERM,
            "seed": SEED,
            "hash": "blake2b-64 keyed with the sharing key",
            "edge_words": EDGE,
        },
        "jaccard_threshold": threshold,
    }


@dataclass
class Hits:
    """One account's requests matching one indicator."""

    requests: int = 0
    best: float = 0.0
    total: float = 0.0


class IndicatorIndex:
    """The templates, networks and user agents of a set of indicators, ready to match requests."""

    def __init__(
        self,
        indicators: list[dict[str, Any]],
        key: bytes,
        threshold: float = THRESHOLD,
        *,
        where: str = "indicators",
    ):
        self.ids = [str(ind["id"]) for ind in indicators]
        self.key = key
        self.threshold = threshold
        self.signer = Signer(key)
        self.templates = TemplateIndex(threshold)
        self.owner: list[int] = []
        """The indicator of each template."""
        self.networks: dict[str, set[int]] = {}
        self.agents: dict[str, set[int]] = {}
        for i, ind in enumerate(indicators):
            for j, template in enumerate(ind.get("templates") or []):
                signature = decode_signature(
                    template.get("signature", ""), f"{where}: {self.ids[i]} template {j}"
                )
                self.templates.add(signature)
                self.owner.append(i)
            for value in ind.get("networks") or []:
                self.networks.setdefault(value, set()).add(i)
            for value in ind.get("user_agents") or []:
                self.agents.setdefault(value, set()).add(i)
        self._hashed: dict[tuple[str, str], set[int]] = {}

    @classmethod
    def load(cls, path: str | Path, key: bytes) -> IndicatorIndex:
        """Read an indicator file; ConfigError if it was made with another key, DataError if malformed."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"indicators {path}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"indicators {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"indicators {path}: not a {FORMAT} file")
        if data.get("format_version") != VERSION:
            raise DataError(
                f"indicators {path}: format_version {data.get('format_version')!r}; this distillab "
                f"reads version {VERSION}"
            )
        minhash = data.get("minhash") or {}
        if (
            minhash.get("num_perm"),
            minhash.get("seed"),
            minhash.get("scheme"),
            minhash.get("edge_words"),
        ) != (NUM_PERM, SEED, SCHEME, EDGE):
            raise DataError(f"indicators {path}: MinHash settings {minhash} differ from this distillab's")
        if data.get("key_check") != key_check(key):
            raise ConfigError(
                f"indicators {path}: made with a different sharing key than the one given; "
                "nothing in it could match"
            )
        indicators = data.get("indicators")
        if not isinstance(indicators, list) or not all(
            isinstance(i, dict) and i.get("id") for i in indicators
        ):
            raise DataError(f"indicators {path}: 'indicators' must be a list of objects with an 'id'")
        return cls(
            indicators, key, float(data.get("jaccard_threshold", THRESHOLD)), where=f"indicators {path}"
        )

    def __len__(self) -> int:
        return len(self.ids)

    def match(self, text: str) -> tuple[int, float] | None:
        """(indicator, similarity) of the closest template at or above the threshold, or None."""
        if not len(self.templates):
            return None
        found = self.templates.best(self.signer.signature(text))
        return None if found is None else (self.owner[found[0]], found[1])

    def shared(self, kind: str, value: str | None) -> set[int]:
        """Indicators listing this network prefix (kind "network") or user agent (kind "user_agent")."""
        if not value:
            return set()
        found = self._hashed.get((kind, value))
        if found is None:
            if len(self._hashed) > 100_000:
                self._hashed.clear()
            table = self.networks if kind == "network" else self.agents
            found = self._hashed[(kind, value)] = table.get(keyed(self.key, kind, value), set())
        return found


class IndicatorTally:
    """Per account: requests matching each indicator, and whether its networks and agents are listed."""

    def __init__(self, index: IndicatorIndex, min_requests: int = 5):
        if min_requests < 1:
            raise ConfigError(f"indicator_min_requests: must be >= 1, got {min_requests}")
        self.index = index
        self.min_requests = min_requests
        self.hits: dict[str, dict[int, Hits]] = {}
        self.support: dict[str, set[tuple[str, int]]] = {}

    def add(self, account: str, text: str, prefix: str | None, user_agent: str | None) -> None:
        for kind, value in (("network", prefix), ("user_agent", user_agent)):
            for i in self.index.shared(kind, value):
                self.support.setdefault(account, set()).add((kind, i))
        found = self.index.match(text)
        if found is not None:
            hits = self.hits.setdefault(account, {}).setdefault(found[0], Hits())
            hits.requests += 1
            hits.best = max(hits.best, found[1])
            hits.total += found[1]

    def add_record(self, record: dict[str, Any]) -> None:
        """One request-log record (DESIGN.md)."""
        f = request_fields(record)
        self.add(f["account"], f["text"], f["prefix"], f["user_agent"])

    def add_columns(self, columns: Columns) -> None:
        """A batch from `logs.read_batches`."""
        for row in zip(
            columns.account.to_pylist(),
            columns.text.to_pylist(),
            columns.prefix.to_pylist(),
            columns.user_agent.to_pylist(),
        ):
            self.add(*row)

    def flagged(self) -> dict[str, tuple[str, str]]:
        """Accounts with at least `min_requests` requests matching one indicator: (its id, the reason)."""
        out = {}
        for account, by_indicator in self.hits.items():
            i, hits = max(by_indicator.items(), key=lambda item: item[1].requests)
            if hits.requests < self.min_requests:
                continue
            support = self.support.get(account, set())
            also = [
                words
                for kind, words in (("network", "its network prefix"), ("user_agent", "its user agent"))
                if (kind, i) in support
            ]
            reason = (
                f"matches indicator {self.index.ids[i]}: template similarity {hits.best:.2f} "
                f"(mean {hits.total / hits.requests:.2f}) on {hits.requests} requests"
                + (f"; {' and '.join(also)} also listed" if also else "")
            )
            out[account] = (self.index.ids[i], reason)
        return out
