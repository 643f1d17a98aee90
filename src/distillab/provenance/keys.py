"""Watermark keys: read the master key, derive the marking keys from it, name keys without revealing them.

The master key never marks anything itself. Every marking key is HMAC-SHA256(master, label): one default
key, and one per account when a server marks each account's text with its own key, so a radioactive
student points at the accounts whose outputs it was trained on. Knowing one account's key reveals
nothing about the master or the other accounts' keys.

A key is given as a file (`--key-file`, its whole content, surrounding whitespace stripped) or in the
environment variable DISTILLAB_WATERMARK_KEY, never as a plain command-line argument (which would land
in shell history and `ps`). Make one with `openssl rand -hex 32 > watermark.key`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from distillab.errors import ConfigError

KEY_ENV = "DISTILLAB_WATERMARK_KEY"
MIN_KEY_BYTES = 16
LABEL = b"distillab-watermark/v1"


def load_key(path: Path | None, *, env: str = KEY_ENV) -> bytes | None:
    """The master key from `path`, else from the environment variable `env`; None when neither is set.

    Raises ConfigError (naming the file or variable) for a missing, unreadable, empty or short key.
    """
    if path is not None:
        try:
            raw = Path(path).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"watermark key file {path}: cannot read it ({exc.strerror or exc})") from exc
        where = f"watermark key file {path}"
    else:
        value = os.environ.get(env, "").strip()
        if not value:
            return None
        raw, where = value.encode("utf-8"), f"${env}"
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{where}: the key has {len(raw)} bytes; use at least {MIN_KEY_BYTES} random bytes "
            "(e.g. `openssl rand -hex 32`)"
        )
    return raw


def derive(master: bytes, account: str | None = None) -> bytes:
    """The marking key for `account` (None: the default key), HMAC-SHA256 of the master key."""
    label = LABEL if account is None else LABEL + b"/account/" + account.encode("utf-8")
    return hmac.new(master, label, hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A short public name for a key (a hash of it): safe to print, log and put in evidence."""
    return hashlib.sha256(b"distillab-key-id/" + key).hexdigest()[:12]


def subkeys(key: bytes, count: int) -> list[int]:
    """`count` independent 64-bit integers derived from `key`, for the green-list hash."""
    return [
        int.from_bytes(hmac.new(key, b"prf/%d" % i, hashlib.sha256).digest()[:8], "little")
        for i in range(count)
    ]
