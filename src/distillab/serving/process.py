"""Run `distillab serve` as a child process on loopback and wait until it answers.

Used by the demo and by tests that need a real server in another process (its own interpreter, so
the model's compute never competes with the caller for the GIL).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from distillab.errors import DistillabError

_ANNOUNCE = re.compile(r"serving .* at (http://\S+)/v1")
UVICORN_ANNOUNCE = re.compile(r"Uvicorn running on (http://\S+)")
"""How any uvicorn-based server (`transformers serve`, for one) says where it listens."""


@contextmanager
def serve_process(
    model: str | Path,
    *,
    extra_args: tuple[str, ...] = (),
    startup_timeout_s: float = 120.0,
    log: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Start `distillab serve --model MODEL --port 0`; yield its base URL (`http://127.0.0.1:PORT/v1`).

    The server picks a free port itself and announces it, so there is no race for a port. Its output goes
    to `log` (or is discarded after startup). `env` adds variables to this process's environment for the
    server only (e.g. its admin token). The process is stopped (SIGTERM, then SIGKILL) on exit.
    """
    cmd = [
        sys.executable,
        "-m",
        "distillab.cli.main",
        "serve",
        "--model",
        str(model),
        "--port",
        "0",
        *extra_args,
    ]
    with announced_server(
        cmd,
        announce=_ANNOUNCE,
        name="`distillab serve`",
        startup_timeout_s=startup_timeout_s,
        log=log,
        env=env,
    ) as url:
        yield url


@contextmanager
def announced_server(
    cmd: list[str],
    *,
    announce: re.Pattern[str],
    name: str,
    startup_timeout_s: float = 120.0,
    log: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run an OpenAI-compatible server `cmd` that binds a free port and prints it (`announce` captures
    its base address); yield `BASE/v1` once `/health` answers. Used for `distillab serve` and for peers
    such as `transformers serve --port 0` (with `UVICORN_ANNOUNCE`)."""
    out = open(log, "w", encoding="utf-8") if log else None
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = _wait_for_announcement(proc, out, startup_timeout_s, announce, name)
        _wait_healthy(url, proc, startup_timeout_s, name)
        threading.Thread(target=_drain, args=(proc, out), daemon=True).start()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if out:
            out.close()


def _wait_for_announcement(
    proc: subprocess.Popen[str],
    out: object,
    timeout_s: float,
    announce: re.Pattern[str] = _ANNOUNCE,
    name: str = "`distillab serve`",
) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if out is not None:
            out.write(line)  # type: ignore[attr-defined]
        match = announce.search(line)
        if match:
            return match.group(1) + "/v1"
    proc.kill()
    tail = "".join(seen[-15:])
    raise DistillabError(f"{name} did not start (exit code {proc.poll()}); its last output:\n{tail}")


def _wait_healthy(
    url: str, proc: subprocess.Popen[str], timeout_s: float, name: str = "`distillab serve`"
) -> None:
    health = url.removesuffix("/v1") + "/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(health, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise DistillabError(f"{name} at {url} never became healthy")


def _drain(proc: subprocess.Popen[str], out: object) -> None:
    # Keep reading so a chatty server never blocks on a full pipe.
    assert proc.stdout is not None
    for line in proc.stdout:
        if out is not None and not getattr(out, "closed", True):
            out.write(line)  # type: ignore[attr-defined]
