"""The gateway's cache of verified API keys: what it remembers, for how long, and how a revoke ends it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from distillab.db.keys import KeyInfo
from distillab.gateway.keycache import KeyCache


def secret(i: int) -> str:
    return f"dl-{i:012x}.{'s' * 24}"


def info(i: int, *, revoked: bool = False) -> KeyInfo:
    return KeyInfo(f"{i:012x}", f"account-{i}", None, None, 0.0, revoked, "ssss")


class FakeStore:
    """`verify_key` over a dict, counting the calls; `gate` (when set) holds every call until it opens.

    `entered` is set once a call has begun (awaited by tests that act while a lookup is in flight)."""

    def __init__(self, keys: dict[str, KeyInfo]):
        self.keys = keys
        self.calls: list[str] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def verify_key(self, key: str) -> KeyInfo | None:
        self.calls.append(key)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        return self.keys.get(key)


def run(test: Callable[[], object]) -> None:
    asyncio.run(test())  # type: ignore[arg-type]


async def lookup_begun(store: FakeStore) -> None:
    assert await asyncio.to_thread(store.entered.wait, 10), "the store was never asked"


def test_a_verified_key_is_remembered_until_its_ttl(clock: Any) -> None:
    store = FakeStore({secret(1): info(1)})
    cache = KeyCache(store.verify_key, ttl_s=2.0, clock=clock)

    async def test() -> None:
        assert await cache.verify(secret(1)) == info(1)
        clock.now += 1.9
        assert await cache.verify(secret(1)) == info(1)
        assert len(store.calls) == 1
        clock.now += 0.1  # the TTL is up
        assert await cache.verify(secret(1)) == info(1)
        assert len(store.calls) == 2
        assert await cache.verify(secret(1)) == info(1)
        assert len(store.calls) == 2  # remembered again, from the new lookup

    run(test)


def test_unknown_and_revoked_keys_are_asked_every_time_and_malformed_ones_never() -> None:
    store = FakeStore({secret(2): info(2, revoked=True)})
    cache = KeyCache(store.verify_key)

    async def test() -> None:
        for _ in range(2):
            assert (await cache.verify(secret(2))).revoked  # type: ignore[union-attr]
            assert await cache.verify(secret(3)) is None
        assert len(store.calls) == 4
        assert await cache.verify("sk-not-ours") is None and await cache.verify("dl-1234.short") is None
        assert len(store.calls) == 4

    run(test)


def test_forget_makes_a_revoke_count_at_once() -> None:
    store = FakeStore({secret(1): info(1), secret(2): info(2)})
    cache = KeyCache(store.verify_key, ttl_s=60)

    async def test() -> None:
        await cache.verify(secret(1))
        await cache.verify(secret(2))
        store.keys[secret(1)] = replace(info(1), revoked=True)  # revoked in the store...
        assert not (await cache.verify(secret(1))).revoked  # type: ignore[union-attr]
        cache.forget(info(1).key_id)  # ...and forgotten here
        assert (await cache.verify(secret(1))).revoked  # type: ignore[union-attr]
        calls = len(store.calls)
        assert await cache.verify(secret(2)) == info(2) and len(store.calls) == calls  # the others stay

    run(test)


def test_a_lookup_in_flight_when_the_key_is_forgotten_is_not_remembered() -> None:
    store = FakeStore({secret(1): info(1)})
    store.gate = threading.Event()
    cache = KeyCache(store.verify_key, ttl_s=60)

    async def test() -> None:
        lookup = asyncio.ensure_future(cache.verify(secret(1)))
        await lookup_begun(store)
        cache.forget(info(1).key_id)  # the revoke commits while the lookup is reading
        store.gate.set()  # type: ignore[union-attr]
        assert await lookup == info(1)
        await cache.verify(secret(1))
        assert len(store.calls) == 2

    run(test)


def test_concurrent_first_requests_share_one_lookup() -> None:
    store = FakeStore({secret(1): info(1)})
    store.gate = threading.Event()
    cache = KeyCache(store.verify_key)

    async def test() -> None:
        waiting = [asyncio.ensure_future(cache.verify(secret(1))) for _ in range(10)]
        await lookup_begun(store)  # all ten are waiting on the one lookup by now
        waiting[0].cancel()  # one caller going away does not cancel the lookup for the others
        store.gate.set()  # type: ignore[union-attr]
        answers = await asyncio.gather(*waiting[1:])
        assert answers == [info(1)] * 9 and len(store.calls) == 1

    run(test)


def test_the_cache_is_bounded_and_drops_the_oldest_key() -> None:
    store = FakeStore({secret(i): info(i) for i in range(3)})
    cache = KeyCache(store.verify_key, max_keys=2)

    async def test() -> None:
        for i in range(3):
            await cache.verify(secret(i))
        calls = len(store.calls)
        await cache.verify(secret(2))
        await cache.verify(secret(1))
        assert len(store.calls) == calls  # still known
        await cache.verify(secret(0))
        assert len(store.calls) == calls + 1  # dropped, asked again

    run(test)
