"""The training progress bar: step, loss and tokens per second, on the main process only."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainBar:
    """``with TrainBar(console, total, start, enabled) as bar: bar.update(step, loss, tokens)``.

    Tokens per second count this run only (not the steps a resumed run had already done).
    """

    def __init__(self, console: Console, total: int, start: int, enabled: bool):
        self.enabled = enabled
        self.start_step = start
        self.tokens = 0
        self.t0 = time.perf_counter()
        self.progress = Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} tok/s"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.task = self.progress.add_task("train", total=total, completed=start, loss="-", rate="-")

    def __enter__(self) -> TrainBar:
        self.progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.__exit__(kind, exc, tb)

    def update(self, step: int, loss: float, tokens: int) -> None:
        self.tokens += tokens
        rate = self.tokens / max(time.perf_counter() - self.t0, 1e-9)
        self.progress.update(self.task, completed=step, loss=f"{loss:.4f}", rate=f"{rate:,.0f}")

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(time.perf_counter() - self.t0, 1e-9)
