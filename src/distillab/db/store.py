"""The gateway's durable store: accounts, API keys, policy states and decisions, and the request log.

SQLAlchemy Core over SQLite (one file, the default) or PostgreSQL (several gateway replicas):

    store = Store("gateway.db")                       # or "postgresql://gw@db-host/gateway"
    info, secret = store.create_key("acme", org="acme-inc")
    store.verify_key(secret)                          # -> KeyInfo, None when unknown or wrong
    store.log_request({"ts": time.time(), "account": "acme", "endpoint": "/v1/completions", ...})

Every write commits before the call returns. SQLite runs in WAL mode with synchronous=FULL, so a
returned write survives power loss (`fsync=False` trades that for one disk flush less per commit), and
several processes (gateway replicas, `distillab keys`) can share one file: readers never block the
writer, and writers wait for each other (busy_timeout).
Times are epoch seconds (floats). Log records follow the "Request log record" table in DESIGN.md, plus
`id` (increasing), `decision` and `reason`. The tables are in `distillab.db.schema`; the request
log's writing and reading in `distillab.db.request_log`.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from distillab.db.keys import Account, KeyInfo, hash_secret, matches, new_salt, new_secret, parse_key_id
from distillab.db.request_log import RequestLog
from distillab.db.schema import (
    STATES,
    FollowerCheckpoint,
    accounts,
    api_keys,
    decisions,
    followers,
    metadata,
)
from distillab.errors import ConfigError, DataError

BUSY_TIMEOUT_MS = 30_000
_CREATE_LOCK = 0x6469_7374  # any constant shared by every replica: pg_advisory_xact_lock's key


def database_url(url: str | os.PathLike[str]) -> sa.URL:
    """A SQLAlchemy URL; a plain path means a SQLite file, `postgresql://` means the psycopg 3 driver."""
    text = os.fspath(url)
    if "://" not in text:
        return sa.URL.create("sqlite", database=str(Path(text).expanduser().absolute()))
    try:
        parsed = sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigError(f"invalid database URL {_redact(text)}: {_redact(str(exc))}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _redact(text: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", text)


def _sqlite_pragmas(dbapi_connection: Any, fsync: bool) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Switching a fresh file to WAL upgrades a shared lock to an exclusive one. When another connection is
    # doing the same, SQLite answers "locked" at once instead of calling the busy handler (waiting could
    # deadlock), so retry until the busy timeout. WAL is persistent: later opens do not switch again.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.04)
    # NORMAL (in WAL mode): a commit survives the process dying, but the last ones may be lost on power loss.
    cursor.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store(RequestLog):
    """Accounts, keys, policy states and the request log in one database. Thread-safe; call close().

    The request log's methods (`log_requests`, `iter_logs`, `tail_logs`, ...) are in `RequestLog`."""

    def __init__(self, url: str | os.PathLike[str], *, create: bool = True, fsync: bool = True) -> None:
        """Open (and with `create`, initialise) the database at `url`: a SQLite path or SQLAlchemy URL.

        With create=False a missing SQLite file is a ConfigError instead of a new empty database.
        With fsync=False a commit returns before the disk has it (SQLite synchronous=NORMAL, PostgreSQL
        synchronous_commit=off): it survives this process crashing, but the last commits may be lost on
        power loss or an OS crash (PostgreSQL: also a server crash). It saves a disk flush per commit.
        """
        parsed = database_url(url)
        self.url = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigError(f"database {self.url}: only SQLite and PostgreSQL are supported")
        if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            if not create and not path.exists():
                raise ConfigError(f"no database at {path} (`distillab keys create --db {path}` makes one)")
            if not path.parent.is_dir():
                raise ConfigError(f"database {path}: directory {path.parent} does not exist")
        kwargs: dict[str, Any] = {}
        if self.dialect == "postgresql":
            kwargs["pool_pre_ping"] = True  # survive a database restart under a long-running gateway
            kwargs["connect_args"] = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
            if not fsync:
                kwargs["connect_args"]["options"] = "-c synchronous_commit=off"
        try:
            self.engine = sa.create_engine(parsed, **kwargs)
        except (ImportError, sa.exc.NoSuchModuleError) as exc:
            raise ConfigError(
                f"database {self.url}: driver missing ({exc}); for PostgreSQL install distillab[postgres]"
            ) from None
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", lambda conn, _record: _sqlite_pragmas(conn, fsync))
        self._open_log()
        try:
            self._create_tables()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self.engine.dispose()
            reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(f"cannot open database {self.url}: {reason}") from None

    def _create_tables(self) -> None:
        # Several processes may open a fresh database at once; each must see the others' tables before
        # deciding what to create. So the existence checks and CREATEs run under one lock.
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock; others wait (busy_timeout)
            else:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})
            metadata.create_all(conn)
            conn.commit()

    def close(self) -> None:
        self._close_log()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- accounts and keys --------------------------------------------------------------------------

    def create_key(
        self, account: str, *, org: str | None = None, payment_id: str | None = None
    ) -> tuple[KeyInfo, str]:
        """A new key for `account` (created if missing; org/payment_id updated when given).

        Returns the key's info and its secret. The secret is not stored: this is the only time it exists.
        """
        if not account or not account.strip():
            raise ConfigError("account name must not be empty")
        key_id, secret = new_secret()
        salt, now = new_salt(), time.time()
        insert = sqlite_insert if self.dialect == "sqlite" else pg_insert
        changes = {k: v for k, v in (("org", org), ("payment_id", payment_id)) if v is not None}
        with self.engine.begin() as conn:
            conn.execute(
                insert(accounts)
                .values(name=account, created=now, **changes)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            if changes:
                conn.execute(accounts.update().where(accounts.c.name == account).values(**changes))
            conn.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    account=account,
                    salt=salt,
                    hash=hash_secret(salt, secret),
                    created=now,
                    last4=secret[-4:],
                )
            )
            row = conn.execute(
                sa.select(accounts.c.org, accounts.c.payment_id).where(accounts.c.name == account)
            ).one()
        return KeyInfo(key_id, account, row.org, row.payment_id, now, False, secret[-4:]), secret

    def _keys_query(self) -> sa.Select[Any]:
        return sa.select(api_keys, accounts.c.org, accounts.c.payment_id).select_from(
            api_keys.join(accounts, api_keys.c.account == accounts.c.name)
        )

    def verify_key(self, secret: str) -> KeyInfo | None:
        """The key a secret belongs to (check `.revoked`), or None if it is malformed, unknown or wrong."""
        key_id = parse_key_id(secret) if isinstance(secret, str) else None
        if key_id is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(self._keys_query().where(api_keys.c.key_id == key_id)).first()
        if row is None or not matches(bytes(row.salt), bytes(row.hash), secret):
            return None
        return _key_info(row)

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False if there is no such key. Revoking twice keeps the first revocation time."""
        with self.engine.begin() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
            if done.rowcount:
                return True
            return (
                conn.execute(sa.select(api_keys.c.key_id).where(api_keys.c.key_id == key_id)).first()
                is not None
            )

    def list_keys(self, account: str | None = None) -> list[KeyInfo]:
        query = self._keys_query().order_by(api_keys.c.account, api_keys.c.created, api_keys.c.key_id)
        if account is not None:
            query = query.where(api_keys.c.account == account)
        with self.engine.connect() as conn:
            return [_key_info(row) for row in conn.execute(query)]

    def list_accounts(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts).order_by(accounts.c.name)).all()
        return [
            Account(r.name, r.org, r.payment_id, r.state, r.state_reason, r.created, r.state_by) for r in rows
        ]

    # -- policy state -------------------------------------------------------------------------------

    def set_state(self, account: str, state: str, reason: str | None, by: str) -> None:
        """Put `account` in `state` (allow/throttle/degrade/block) and record the decision."""
        if state not in STATES:
            raise ConfigError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(
                accounts.update()
                .where(accounts.c.name == account)
                .values(state=state, state_reason=reason, state_by=by, state_changed=now)
            )
            if not done.rowcount:
                raise DataError(f"no account {account!r} in {self.url}")
            conn.execute(
                decisions.insert().values(ts=now, account=account, decision=state, reason=reason, by=by)
            )

    def escalate_state(self, account: str, state: str, reason: str | None, by: str) -> bool:
        """Raise `account` to `state` on behalf of an automatic decider (`by`, e.g. "detector"), in one
        conditional UPDATE: only when its state is milder (STATES order) and was not set by an admin, so
        an admin's decision (a block, or an allow after review) always wins, even one made a moment ago
        by another replica. Records the decision; returns whether the state changed."""
        if state not in STATES:
            raise ConfigError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        milder = STATES[: STATES.index(state)]
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(
                accounts.update()
                .where(
                    accounts.c.name == account,
                    accounts.c.state.in_(milder),
                    sa.or_(accounts.c.state_by.is_(None), accounts.c.state_by != "admin"),
                )
                .values(state=state, state_reason=reason, state_by=by, state_changed=now)
            )
            if not done.rowcount:
                return False
            conn.execute(
                decisions.insert().values(ts=now, account=account, decision=state, reason=reason, by=by)
            )
        return True

    def note_decision(self, account: str, decision: str, reason: str | None, by: str) -> None:
        """Record a decision that changes no state (the detector's "flag" action: flagged, left as it was)."""
        with self.engine.begin() as conn:
            conn.execute(
                decisions.insert().values(
                    ts=time.time(), account=account, decision=decision, reason=reason, by=by
                )
            )

    def list_decisions(self, account: str | None = None) -> list[dict[str, Any]]:
        """Recorded decisions (state changes and flags), oldest first: ts, account, decision, reason, by."""
        query = sa.select(decisions).order_by(decisions.c.id)
        if account is not None:
            query = query.where(decisions.c.account == account)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def state_info(self, account: str) -> dict[str, Any]:
        """An account's state, its reason, who set it ("admin", "detector"; None: never set) and when."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    accounts.c.state, accounts.c.state_reason, accounts.c.state_by, accounts.c.state_changed
                ).where(accounts.c.name == account)
            ).first()
        if row is None:
            raise DataError(f"no account {account!r} in {self.url}")
        return {
            "state": row.state,
            "reason": row.state_reason,
            "by": row.state_by,
            "changed": row.state_changed,
        }

    def get_state(self, account: str) -> tuple[str, str | None]:
        """`(state, reason)` of an account."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(accounts.c.state, accounts.c.state_reason).where(accounts.c.name == account)
            ).first()
        if row is None:
            raise DataError(f"no account {account!r} in {self.url}")
        return row.state, row.state_reason

    def states(self) -> dict[str, str]:
        """Every account's state, for a gateway's in-memory cache."""
        with self.engine.connect() as conn:
            return {name: state for name, state in conn.execute(sa.select(accounts.c.name, accounts.c.state))}

    # -- detector followers -------------------------------------------------------------------------

    def follower(self, name: str) -> FollowerCheckpoint | None:
        """The checkpoint the follower `name` saved last, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(followers).where(followers.c.name == name)).first()
        if row is None:
            return None
        gaps = [(int(lo), int(hi), float(since)) for lo, hi, since in json.loads(row.gaps)]
        return FollowerCheckpoint(
            row.name, int(row.position), gaps, int(row.folded), row.fingerprint, bytes(row.state), row.saved
        )

    def save_follower(self, checkpoint: FollowerCheckpoint) -> None:
        """Replace the follower's checkpoint: position, gaps and state in one transaction."""
        values = {
            "position": checkpoint.position,
            "gaps": json.dumps(checkpoint.gaps),
            "folded": checkpoint.folded,
            "fingerprint": checkpoint.fingerprint,
            "state": checkpoint.state,
            "saved": checkpoint.saved,
        }
        insert = sqlite_insert if self.dialect == "sqlite" else pg_insert
        statement = insert(followers).values(name=checkpoint.name, **values)
        with self.engine.begin() as conn:
            conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))

    def forget_follower(self, name: str) -> None:
        """Delete the follower's checkpoint (it starts afresh next time)."""
        with self.engine.begin() as conn:
            conn.execute(followers.delete().where(followers.c.name == name))


def _key_info(row: Any) -> KeyInfo:
    return KeyInfo(
        row.key_id, row.account, row.org, row.payment_id, row.created, row.revoked_at is not None, row.last4
    )
