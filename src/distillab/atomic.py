"""Atomic file writes: a reader sees the old file or the complete new one, never half of either.

    with atomic_path(out) as tmp:      # write anything to tmp (any library, any format)
        table.to_parquet(tmp)
    write_text(out / "report.json", text)

The temporary file sits next to the target (same filesystem), is fsynced, renamed over the target, and
the directory is fsynced; on any error the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distillab.data.journal import fsync_dir


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write; renamed to ``path`` when the block ends without an error."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
