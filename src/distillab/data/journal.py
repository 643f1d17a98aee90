"""The append-only journal that makes a harvest survive `kill -9`.

Records go to `OUT/.journal/part-*.jsonl` as soon as the teacher answers, one JSON line each, written
and fsynced before the worker takes its next prompt. Concurrent workers share fsyncs (group commit):
whoever holds the write lock flushes everything queued so far, so durability costs one fsync per batch,
not per record. Each run appends to a new file, so a line torn by a crash can only be the last line of
a file; readers drop it and trust every complete line. The directory is hidden so that
`datasets.load_dataset(OUT)` never mistakes it for data.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distillab.errors import DataError

JOURNAL_DIR = ".journal"


def journal_dir(out: Path) -> Path:
    return out / JOURNAL_DIR


def journal_files(out: Path) -> list[Path]:
    return sorted(journal_dir(out).glob("part-*.jsonl"))


def fsync_dir(path: Path) -> None:
    """Make a rename or file creation in `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Appends records to a fresh journal file with group-committed fsyncs."""

    def __init__(self, out: Path):
        directory = journal_dir(out)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"part-{time.time_ns()}-{os.getpid()}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(directory)
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Return once `records` are on disk (fsynced)."""
        data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((data.encode("utf-8"), future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        """Write whatever is pending in one write + fsync, until nothing is. Waiters are woken directly
        (no lock to queue on, so a hundred workers do not convoy through it one by one)."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await asyncio.to_thread(self._write, b"".join(chunk for chunk, _ in batch))
                except OSError as exc:
                    for _, f in batch:
                        f.set_exception(DataError(f"{self.path}: cannot write the journal ({exc})"))
                else:
                    for _, f in batch:
                        f.set_result(None)
        finally:
            self._flusher = None

    def close(self) -> None:
        os.close(self._fd)


def read_journal(out: Path) -> Iterator[dict[str, Any]]:
    """Every complete record in the journal, oldest file first. A torn last line is dropped."""
    for path in journal_files(out):
        with path.open("rb") as f:  # streamed: a journal can be far larger than memory
            for line_no, line in enumerate(f, start=1):
                if not line.endswith(b"\n"):
                    break  # only the last line can lack its newline: torn by a crash mid-write
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"{path}:{line_no}: corrupt journal line ({exc.msg}); the journal is only "
                        "ever appended to, so this file was changed by something else"
                    ) from exc


def remove_journal(out: Path) -> None:
    for path in journal_files(out):
        path.unlink()
    fsync_dir(journal_dir(out))
