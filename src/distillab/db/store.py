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
`id` (increasing), `decision` and `reason`. The tables are in `distillab.db.schema`.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from distillab.db.keys import Account, KeyInfo, hash_secret, matches, new_salt, new_secret, parse_key_id
from distillab.db.schema import (
    LOG_FIELDS,
    STATES,
    accounts,
    api_keys,
    decisions,
    from_row,
    metadata,
    requests,
    to_row,
)
from distillab.errors import ConfigError, DataError, StoreError

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


class Store:
    """Accounts, keys, policy states and the request log in one database. Thread-safe; call close()."""

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
        # The request log is written through one connection kept for it (under a lock) and a statement
        # compiled once: through SQLAlchemy Core, checking a pooled connection out and back in for every
        # commit cost 0.18 ms more per write than the insert and commit themselves.
        self._log_columns = [name for name in LOG_FIELDS if name != "id"]
        compiled = requests.insert().compile(dialect=self.engine.dialect, column_keys=self._log_columns)
        self._log_sql, self._log_positional = str(compiled), bool(compiled.positional)
        self._log_lock = threading.Lock()
        self._log_conn: Any = None
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
        with self._log_lock:
            if self._log_conn is not None:
                self._log_conn.close()
                self._log_conn = None
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

    # -- request log --------------------------------------------------------------------------------

    def log_request(self, record: dict[str, Any]) -> None:
        """Append one request-log record; it is committed (durable) when this returns."""
        self.log_requests([record])

    def log_requests(self, records: Iterable[dict[str, Any]]) -> None:
        """Append several records in one transaction: all or none are stored (committed when this returns)."""
        rows: list[Any] = [to_row(record) for record in records]
        if not rows:
            return
        if (
            self.dialect == "postgresql"
        ):  # its text cannot hold NUL (JSON escapes it; an answer may carry one)
            rows = [
                {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v for k, v in row.items()}
                for row in rows
            ]
        if self._log_positional:
            rows = [tuple(row[name] for name in self._log_columns) for row in rows]
        with self._log_lock:
            self._write_log(rows)

    def _write_log(self, rows: list[Any], *, retry: bool = True) -> None:
        """One transaction on the kept log connection. On any failure the connection is dropped (nothing of
        the transaction was committed); when it had died under us (a PostgreSQL restart, a dropped socket),
        the rows are written once more on a fresh one, as the pool's pre-ping would have done. A database
        that cannot be reached or used (PEP 249's OperationalError and InterfaceError: gone, locked past
        its timeout, out of space) is a StoreError; any other error (a bad value) is raised as it is."""
        dbapi = self.engine.dialect.loaded_dbapi
        unavailable = (
            dbapi.OperationalError,
            dbapi.InterfaceError,
            sa.exc.OperationalError,
            sa.exc.InterfaceError,
        )
        if self._log_conn is None:
            try:
                self._log_conn = self.engine.raw_connection()
            except unavailable as exc:
                raise _unavailable(self.url, exc) from exc
        conn = self._log_conn
        try:
            cursor = conn.cursor()
            try:
                cursor.executemany(self._log_sql, rows)
            finally:
                cursor.close()
            conn.commit()
            return
        except BaseException as exc:
            lost = isinstance(exc, Exception) and self.engine.dialect.is_disconnect(
                exc,  # type: ignore[arg-type]  # any DBAPI error; others say False
                conn.dbapi_connection,
                None,
            )
            self._log_conn = None
            conn.invalidate()
            if lost and retry:
                pass  # written once more below, on a fresh connection
            elif isinstance(exc, unavailable):
                raise _unavailable(self.url, exc) from exc
            else:
                raise
        self._write_log(rows, retry=False)

    def last_log_id(self) -> int:
        """The id of the newest request-log row (0: none yet); rows written later have larger ids."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(requests.c.id))).scalar() or 0)

    def tail_logs(self, limit: int, *, account: str | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` request-log records (of ``account``), oldest first: one indexed read of
        ``limit`` rows however long the log is (`tail_query`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(tail_query(limit, account)).mappings().all()
        return [from_row(row) for row in reversed(rows)]

    def iter_logs(
        self,
        *,
        account: str | None = None,
        since: float | None = None,
        until_id: int | None = None,
        batch: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Log records in the order they were written, read `batch` rows at a time: of `account`, logged at
        or after `since` (epoch seconds), with ids up to `until_id`.

        Each batch is its own short read, so a long export never holds the database open against writers.
        With `since`, the first row logged at or after it is found once (on the `ts` index) and the rest
        is read by id from there, rows logged earlier skipped as they come (a request's `ts` is its start,
        so a few near the boundary commit out of order): every page is a range scan of the primary key.
        """
        last = 0
        if since is not None:
            with self.engine.connect() as conn:
                first = conn.execute(
                    sa.select(sa.func.min(requests.c.id)).where(requests.c.ts >= since)
                ).scalar()
            if first is None:
                return
            last = first - 1
        while True:
            query = sa.select(requests).where(requests.c.id > last).order_by(requests.c.id).limit(batch)
            if account is not None:
                query = query.where(requests.c.account == account)
            if until_id is not None:
                query = query.where(requests.c.id <= until_id)
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
            for row in rows:
                if since is None or row["ts"] >= since:
                    yield from_row(row)
            if len(rows) < batch:
                return
            last = rows[-1]["id"]


def tail_query(limit: int, account: str | None = None) -> sa.Select[Any]:
    """The newest ``limit`` rows (of ``account``), newest first: a backward scan of the primary key, or of
    the (account, id) index, that stops after ``limit`` rows."""
    query = sa.select(requests).order_by(requests.c.id.desc()).limit(limit)
    return query if account is None else query.where(requests.c.account == account)


def _unavailable(url: str, exc: BaseException) -> StoreError:
    reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreError(f"request log {url}: the database is unavailable ({reason})")


def _key_info(row: Any) -> KeyInfo:
    return KeyInfo(
        row.key_id, row.account, row.org, row.payment_id, row.created, row.revoked_at is not None, row.last4
    )
