"""A named lease on a store, held by one process at a time: one detector follower per name.

    lease = Lease.take(store, "follower:detector")     # None while another process holds it
    lease.check()                                       # StoreError if it was lost meanwhile
    lease.release()

Two followers under one name would fold every record twice and overwrite each other's checkpoints, so
the second waits for the first (a rolling deploy starts the new one before the old one stops). The
lease dies with its holder, `kill -9` included, so a restarted follower never waits for a dead one:
on PostgreSQL it is a session advisory lock (released when the holding connection closes), on SQLite
an exclusive `flock` on a file next to the database (released when the process's descriptor closes).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from distillab.errors import ConfigError, StoreError


class Lease:
    def __init__(self, release: Any, where: str, check: Any = None):
        self._release = release
        self._check = check
        self.where = where
        """What holds it: the lock file, or the PostgreSQL advisory lock's key."""

    @classmethod
    def take(cls, store: Any, name: str) -> Lease | None:
        """The lease `name` on `store`, or None if another process holds it now."""
        if store.dialect == "postgresql":
            # pg_try_advisory_lock takes a signed 64-bit key: the name's hash, in a space of its own.
            key = int.from_bytes(
                hashlib.sha256(f"distillab:{name}".encode()).digest()[:8], "big", signed=True
            )
            conn = store.engine.connect()
            try:
                held = conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar()
                conn.commit()  # the lock is the session's, not the transaction's: it outlives this
            except BaseException:
                conn.close()
                raise
            if not held:
                conn.close()
                return None

            def release() -> None:
                conn.invalidate()  # closes the session (and its lock) instead of pooling it
                conn.close()

            def check() -> None:
                conn.execute(sa.select(1))  # fails once the session, and with it the lock, is gone
                conn.commit()

            return cls(release, f"advisory lock {key}", check)
        database = store.engine.url.database
        if not database or database == ":memory:":
            raise ConfigError(f"{store.url}: a lease needs a database file or server, not an in-memory one")
        path = Path(f"{database}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return cls(lambda: os.close(fd), str(path))

    def check(self) -> None:
        """Raise StoreError if the lease was lost (PostgreSQL: its connection dropped, say by a server
        restart; another process may hold it now)."""
        if self._check is None:
            return
        try:
            self._check()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(f"lost the lease ({self.where}): {reason}") from None

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None
