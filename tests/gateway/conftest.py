"""Gateway store fixtures: the same tests run on a SQLite file and on a throwaway PostgreSQL cluster.

`postgres_server` (session) runs initdb + pg_ctl (from PATH, /usr/local/bin or Debian's
/usr/lib/postgresql/N/bin; `.ci/run` installs them when missing) in a temporary directory, listening
only on a Unix socket there (no TCP port, so none to race other processes for), as an unprivileged user
when the tests run as root (postgres refuses root), and tears it down at the end. Without the binaries,
or when the cluster cannot start, PostgreSQL tests skip. They are marked slow: `make test-all` runs them.

`redis_server` runs Debian's redis-server (`.ci/run` installs it when missing) on a free loopback port,
without persistence, in a temporary directory; a test may stop it and start it again on the same port.
Without the binary or the redis client package, or when it cannot start, Redis tests skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from distillab.db.store import Store

PG_USER = "distillab-pg"  # the OS user the server runs as, when we are root
PG_ROLE = "distillab"  # the database superuser


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # /usr/local/bin on this project's machines; Debian's postgresql package keeps them off PATH.
    for folder in [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]:
        if (folder / name).exists():
            return str(folder / name)
    return None


def _run(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}"
        )


def _as_server_user(root: Path) -> list[str]:
    """The prefix that runs a command as the server's user: none unless we are root."""
    if os.geteuid() != 0:
        return []
    if subprocess.run(["id", "-u", PG_USER], capture_output=True, check=False).returncode:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER], root)
    shutil.chown(root, PG_USER, PG_USER)
    return ["runuser", "-u", PG_USER, "--"]


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
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl or not _binary("postgres"):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl, postgres) not found")
    root = Path(tempfile.mkdtemp(prefix="dlpg-"))
    data = root / "data"
    started = False
    try:
        prefix = _as_server_user(root)
        _run(
            prefix
            + [
                initdb,
                "-D",
                str(data),
                "-U",
                PG_ROLE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            root,
        )
        # fsync off: a throwaway cluster needs no crash safety, and the tests then cost no disk flushes.
        options = f"-k {root} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        _run(
            prefix
            + [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "30",
                "-o",
                options,
                "start",
            ],
            root,
        )
        started = True
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start a PostgreSQL cluster: {exc}")
    try:
        yield lambda database: f"postgresql+psycopg://{PG_ROLE}@/{database}?host={root}"
    finally:
        if started:
            subprocess.run(
                prefix + [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                cwd=root,
                capture_output=True,
                check=False,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


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


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 (no persistence: a restart starts empty)."""

    def __init__(self, binary: str, root: Path):
        self.binary, self.root = binary, root
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on a free port, or again on the port it had (a few tries: another process may hold it
        for a moment)."""
        for _ in range(5):
            port = self.port or _free_port()
            cmd = [
                self.binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            with open(self.root / "redis.log", "ab") as log:  # the child keeps its own copy of the file
                proc = subprocess.Popen(cmd + ["--dir", str(self.root)], stdout=log, stderr=subprocess.STDOUT)
            if _answers(port, proc):
                self.port, self.proc = port, proc
                return
            proc.kill()
            proc.wait()
            time.sleep(0.2)
        raise RuntimeError(f"redis-server did not start: {(self.root / 'redis.log').read_text()[-800:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int, proc: subprocess.Popen[bytes]) -> bool:
    """Whether redis-server on `port` answers PING within 10 s (False as soon as it exits)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running throwaway redis-server of this test's own (it may stop and restart it)."""
    pytest.importorskip("redis", reason="the redis client package (distillab[redis]) is not installed")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not found (Debian: apt-get install redis-server)")
    server = RedisServer(binary, tmp_path)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        pytest.skip(f"cannot start redis-server: {exc}")
    try:
        yield server
    finally:
        server.stop()
