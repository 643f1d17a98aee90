"""Verified API keys, remembered for a few seconds so a request does not cost a store round trip.

    keys = KeyCache(store.verify_key)
    info = await keys.verify(secret)     # KeyInfo (check .revoked) or None, as Store.verify_key
    keys.forget(key_id)                  # after a revoke on this replica: refused from now on

Only good keys are remembered (unknown, wrong and revoked ones are looked up every time, so guesses
cannot fill the cache), under the SHA-256 of the secret, for `ttl_s` seconds and at most `max_keys`
of them (the oldest go first). Concurrent first requests with one key share one lookup.

A revoke through this replica's admin API takes effect at once (`forget`); a revoke elsewhere (another
replica, `distillab keys revoke`) within `ttl_s`, the same bound as account states.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from distillab.db.keys import KeyInfo, parse_key_id

KEY_TTL_S = 2.0
"""How long a verified key is trusted without asking the store again."""
MAX_KEYS = 10_000


class KeyCache:
    def __init__(
        self,
        verify: Callable[[str], KeyInfo | None],
        *,
        ttl_s: float = KEY_TTL_S,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._verify = verify
        self._clock = clock
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._known: dict[bytes, tuple[KeyInfo, float]] = {}
        self._pending: dict[bytes, asyncio.Future[KeyInfo | None]] = {}
        self._generation = 0  # bumped by forget(): lookups begun before it are not remembered

    async def verify(self, secret: str) -> KeyInfo | None:
        if parse_key_id(secret) is None:  # not even the shape of a key: no thread, no store
            return None
        digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
        known = self._known.get(digest)
        if known is not None and known[1] > self._clock():
            return known[0]
        lookup = self._pending.get(digest)
        if lookup is None:  # a task of its own: a caller that goes away does not cancel it for the rest
            lookup = self._pending[digest] = asyncio.ensure_future(self._lookup(digest, secret))
        return await asyncio.shield(lookup)

    async def _lookup(self, digest: bytes, secret: str) -> KeyInfo | None:
        generation = self._generation
        try:
            info = await run_in_threadpool(self._verify, secret)
        finally:
            del self._pending[digest]
        if info is not None and not info.revoked and generation == self._generation:
            self._known.pop(digest, None)  # re-inserted last: the dict's order is the age order
            if len(self._known) >= self.max_keys:
                del self._known[next(iter(self._known))]
            self._known[digest] = (info, self._clock() + self.ttl_s)
        return info

    def forget(self, key_id: str) -> None:
        """Stop trusting ``key_id`` (just revoked): its next request asks the store."""
        self._generation += 1
        for digest in [d for d, (info, _) in self._known.items() if info.key_id == key_id]:
            del self._known[digest]
