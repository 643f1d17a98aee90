"""A build cache for tiny-world artifacts, so a second `distillab toy teacher` (or demo) is instant.

Entries live in `$DISTILLAB_CACHE/toy/NAME-KEY/` (`DISTILLAB_CACHE` defaults to `~/.cache/distillab`).
KEY hashes what was asked for plus a fingerprint of the toy code itself, so an entry never outlives the
code that built it. A build runs in a private temporary directory that is renamed into place only when
it has finished: a killed or failed build leaves no entry behind, and two concurrent builds of the same
key both end with one complete entry.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import distillab
from distillab.errors import ConfigError

TMP_PREFIX = ".tmp-"


def cache_root() -> Path:
    """Where toy artifacts are cached: `$DISTILLAB_CACHE/toy`, default `~/.cache/distillab/toy`."""
    base = os.environ.get("DISTILLAB_CACHE") or Path.home() / ".cache" / "distillab"
    return Path(base).expanduser() / "toy"


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the distillab version and every toy module's source: any change invalidates the cache."""
    digest = hashlib.sha256(distillab.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(request: dict[str, Any]) -> str:
    """A short stable hash of `request` (JSON-able) and the code fingerprint."""
    payload = json.dumps({"request": request, "code": code_fingerprint()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(root: Path) -> None:
    """Remove temporary build directories whose builder process is gone (it was killed mid-build)."""
    if not root.is_dir():
        return
    for tmp in root.glob(TMP_PREFIX + "*"):
        try:
            pid = int(tmp.name.split("-")[-2])
        except (ValueError, IndexError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def cached_build(
    name: str,
    request: dict[str, Any],
    build: Callable[[Path], None],
    *,
    force: bool = False,
    root: Path | None = None,
) -> Path:
    """The cache entry for (name, request), running `build(tmp_dir)` first if it is missing (or `force`).

    `build` must write the whole artifact into the directory it is given; that directory becomes the
    entry only after `build` returns.
    """
    root = root or cache_root()
    entry = root / f"{name}-{cache_key(request)}"
    if entry.is_dir() and not force:
        return entry
    root.mkdir(parents=True, exist_ok=True)
    sweep_stale(root)
    tmp = root / f"{TMP_PREFIX}{entry.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        build(tmp)
        (tmp / "cache_request.json").write_text(
            json.dumps({"name": name, "request": request, "code": code_fingerprint()}, indent=2) + "\n"
        )
        if entry.is_dir() and force:
            old = root / f"{TMP_PREFIX}old-{entry.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            entry.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(entry)
        except OSError:
            if not entry.is_dir():
                raise
            # another process finished the same build first; its entry is as good as ours
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def prepare_out(out: Path, *, force: bool = False) -> None:
    """Make sure `out` can be written: absent, an empty directory, or (with `force`) removed first."""
    occupied = out.is_file() or (out.is_dir() and any(out.iterdir()))
    if occupied and not force:
        raise ConfigError(f"--out {out}: already exists and is not empty (pass --force to replace it)")
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()


def copy_entry(entry: Path, out: Path, *, force: bool = False) -> Path:
    """Copy a cache entry to `out` (new, empty, or replaced with `force`) and return `out`."""
    prepare_out(out, force=force)
    shutil.copytree(entry, out)
    return out
