"""API key secrets: how they are made, parsed and hashed. The database never sees a secret.

A secret reads `dl-<key_id>.<random>`: `key_id` (12 hex characters) is public and names the row to
look up, `<random>` is 32 bytes from `secrets`. Only a per-key salt and sha256(salt + secret) are stored.

A fast hash is right here, unlike for passwords: password hashes are slow (bcrypt, argon2) because
people pick guessable passwords, and slowness is what stops an attacker who stole the table from trying
a dictionary against it. A 256-bit random token has no dictionary; brute force needs ~2^255 guesses
whatever the hash costs. A slow hash would only make every API request slower. The salt keeps equal
hashes from telling anything and stops precomputed tables across keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "dl-"
_SECRET = re.compile(r"dl-([0-9a-f]{12})\.([A-Za-z0-9_-]{16,})")


@dataclass(frozen=True)
class KeyInfo:
    """One API key as the gateway and `distillab keys list` see it (never the secret)."""

    key_id: str
    account: str
    org: str | None
    payment_id: str | None
    created: float
    """Epoch seconds."""
    revoked: bool
    last4: str
    """The secret's last 4 characters, so a user can tell their keys apart."""


@dataclass(frozen=True)
class Account:
    """An account: the unit that policy (allow/throttle/degrade/block) applies to."""

    name: str
    org: str | None
    payment_id: str | None
    state: str
    state_reason: str | None
    created: float
    """Epoch seconds."""
    state_by: str | None = None
    """Who set the state: "admin", "detector", or None (never set)."""


def new_secret() -> tuple[str, str]:
    """A fresh `(key_id, secret)`."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}{key_id}.{secrets.token_urlsafe(32)}"


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def hash_secret(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8")).digest()


def parse_key_id(secret: str) -> str | None:
    """The key id inside a well-formed secret, or None."""
    match = _SECRET.fullmatch(secret)
    return match.group(1) if match else None


def matches(salt: bytes, stored_hash: bytes, secret: str) -> bool:
    # Constant-time, so response timing does not reveal how many leading bytes of a guess were right.
    return hmac.compare_digest(hash_secret(salt, secret), stored_hash)
