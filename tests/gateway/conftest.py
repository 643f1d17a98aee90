"""Gateway store fixtures: the same tests run on a SQLite file and on a throwaway PostgreSQL cluster.

`postgres_server` (session) starts a throwaway cluster (`pg_cluster.postgres_cluster`: initdb + pg_ctl,
which `.ci/run` installs when missing) and tears it down at the end. Without the binaries,
or when the cluster cannot start, PostgreSQL tests skip. They are marked slow: `make test-all` runs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from pg_cluster import PostgresUnavailable, postgres_cluster

from distillab.db.store import Store


class FakeClock:
    """A monotonic clock that moves only when the test advances it (`clock.now += seconds`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fake monotonic clock, for code that expires or refills (key and state caches, rate limits)."""
    return FakeClock()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Callable[[str], str]]:
    """A running throwaway PostgreSQL; yields `url(database)`, the URL of a database on it (trust auth)."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_cluster())
        except PostgresUnavailable as exc:
            pytest.skip(str(exc))
        yield url


@pytest.fixture
def postgres_url(postgres_server: Callable[[str], str]) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server(name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "gateway.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    yield opened
    opened.close()
