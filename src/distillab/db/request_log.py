"""The request log half of `Store`: records appended durably through one kept connection, read back in order.

`Store` (`distillab.db.store`) is a `RequestLog`: this module holds its request-log methods, the
queries behind them (`tail_query`) and the error a database that cannot be reached becomes. Writes
commit before the call returns; reads are short, each its own transaction, so a long export never holds
the database open against writers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from distillab.db.schema import LOG_FIELDS, from_row, requests, to_row
from distillab.errors import ConfigError, StoreError


class RequestLog:
    """The request-log methods of `Store`, which provides the engine, its display URL and dialect."""

    engine: sa.Engine
    url: str
    dialect: str

    def _open_log(self) -> None:
        # The request log is written through one connection kept for it (under a lock) and a statement
        # compiled once: through SQLAlchemy Core, checking a pooled connection out and back in for every
        # commit cost 0.18 ms more per write than the insert and commit themselves.
        self._log_columns = [name for name in LOG_FIELDS if name != "id"]
        compiled = requests.insert().compile(dialect=self.engine.dialect, column_keys=self._log_columns)
        self._log_sql, self._log_positional = str(compiled), bool(compiled.positional)
        self._log_lock = threading.Lock()
        self._log_conn: Any = None

    def _close_log(self) -> None:
        with self._log_lock:
            if self._log_conn is not None:
                self._log_conn.close()
                self._log_conn = None

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

    def log_rows_after(
        self, after: int, limit: int, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Up to `limit` request-log records with ids above `after`, by id (a range scan of the key); with
        `columns`, only those fields (and `id`)."""
        query = _log_select(columns).where(requests.c.id > after).order_by(requests.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [from_row(row) for row in conn.execute(query).mappings()]

    def log_rows_in(
        self, ranges: Sequence[tuple[int, int]], columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The request-log records whose ids fall in these inclusive ranges, by id; with `columns`, only
        those fields (and `id`)."""
        if not ranges:
            return []
        query = (
            _log_select(columns)
            .where(sa.or_(*(requests.c.id.between(lo, hi) for lo, hi in ranges)))
            .order_by(requests.c.id)
        )
        with self.engine.connect() as conn:
            return [from_row(row) for row in conn.execute(query).mappings()]

    def first_log_id(self, since: float) -> int | None:
        """The id of the first request-log row logged at or after `since` (epoch seconds), if any."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(sa.func.min(requests.c.id)).where(requests.c.ts >= since)).scalar()
        return None if found is None else int(found)


def _log_select(columns: Sequence[str] | None) -> sa.Select[Any]:
    if columns is None:
        return sa.select(requests)
    unknown = sorted(set(columns) - set(LOG_FIELDS))
    if unknown:
        raise ConfigError(f"request log: no fields {unknown}")
    return sa.select(*(requests.c[name] for name in dict.fromkeys(["id", *columns])))


def tail_query(limit: int, account: str | None = None) -> sa.Select[Any]:
    """The newest ``limit`` rows (of ``account``), newest first: a backward scan of the primary key, or of
    the (account, id) index, that stops after ``limit`` rows."""
    query = sa.select(requests).order_by(requests.c.id.desc()).limit(limit)
    return query if account is None else query.where(requests.c.account == account)


def _unavailable(url: str, exc: BaseException) -> StoreError:
    reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreError(f"request log {url}: the database is unavailable ({reason})")
