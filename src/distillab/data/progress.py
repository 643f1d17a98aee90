"""The harvest's progress line: records done, records/s, ETA, tokens and money spent."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class HarvestProgress:
    """A rich progress bar, or nothing when disabled (tests, logs)."""

    def __init__(self, console: Console, total: int, enabled: bool):
        self._start = time.monotonic()
        self._progress = Progress(
            TextColumn("harvest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("records"),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[tokens]} tok  ${task.fields[cost]:.4f}"),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task = self._progress.add_task("harvest", total=total, rate=0.0, tokens=0, cost=0.0)

    def __enter__(self) -> HarvestProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def advance(self, records: int, done_this_run: int, tokens: int, cost: float) -> None:
        rate = done_this_run / max(1e-9, time.monotonic() - self._start)
        self._progress.update(self._task, advance=records, rate=rate, tokens=tokens, cost=cost)
