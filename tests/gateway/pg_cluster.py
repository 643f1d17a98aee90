"""A throwaway PostgreSQL cluster: initdb + pg_ctl (from PATH, /usr/local/bin or Debian's
/usr/lib/postgresql/N/bin) in a temporary directory, listening only on a Unix socket there (no TCP port,
so none to race other processes for), as an unprivileged user when run as root (postgres refuses root),
with fsync off (nothing in it needs to survive a crash). The tests' `postgres_server` fixture and the
benchmarks that need PostgreSQL start it:

    with postgres_cluster() as url:        # PostgresUnavailable when it cannot start
        url("postgres")                     # a database's SQLAlchemy URL on it (trust auth)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PG_USER = "distillab-pg"  # the OS user the server runs as, when we are root
PG_ROLE = "distillab"  # the database superuser


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the cluster would not start (the message says which)."""


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


@contextmanager
def postgres_cluster() -> Iterator[Callable[[str], str]]:
    """A running throwaway PostgreSQL; yields `url(database)`. Stopped and deleted on exit."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl or not _binary("postgres"):
        raise PostgresUnavailable("PostgreSQL binaries (initdb, pg_ctl, postgres) not found")
    root = Path(tempfile.mkdtemp(prefix="dlpg-"))
    data = root / "data"
    prefix: list[str] = []
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
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"cannot start a PostgreSQL cluster: {exc}") from None
    try:
        yield lambda database: f"postgresql+psycopg://{PG_ROLE}@/{database}?host={root}"
    finally:
        subprocess.run(
            prefix + [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            cwd=root,
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
