"""Dynamic batching: requests that arrive together (or while the model is busy) run as one batch.

The event loop never runs the model. One worker thread does, one batch at a time; while it works, new
requests queue up, and the next batch takes all of them (up to `max_batch` sequences). When the model is
idle, the first request waits `window_s` for neighbours before it starts. This is not continuous batching:
a batch runs until its longest sample finishes (finished rows drop out of the forward pass, though).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from distillab.errors import RequestError
from distillab.models.generate import Engine, EngineRequest, TokenEvent
from distillab.models.samples import Generation


@dataclass
class _Job:
    request: EngineRequest
    future: asyncio.Future[Generation]


class Batcher:
    """Asyncio front of an Engine.

    Create inside or outside a loop; it binds to the first loop that uses it.
    """

    def __init__(self, engine: Engine, *, max_batch: int = 16, window_s: float = 0.005):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.engine = engine
        self.max_batch = max_batch
        """Most sequences (requests x n) per batch; a single larger request still runs, alone."""
        self.window_s = window_s
        self.batch_sizes: list[int] = []
        """Requests per batch run so far (observability and tests)."""
        self._waiting: collections.deque[_Job] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="distillab-engine")
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def generate(self, request: EngineRequest) -> Generation:
        """Queue a request and wait for its result. Invalid requests fail here, alone."""
        if self._closed:
            raise RequestError("the server is shutting down", status=503, type="server_error")
        self.engine.check(request)
        future: asyncio.Future[Generation] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Job(request, future))
        self._ensure_running()
        try:
            return await future
        except asyncio.CancelledError:
            request.cancelled = True
            raise

    async def stream(self, request: EngineRequest) -> AsyncIterator[TokenEvent]:
        """Like `generate`, but yield each token as the engine produces it (all n samples interleaved)."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[TokenEvent | None] = asyncio.Queue()

        def on_event(event: TokenEvent) -> None:  # runs on the engine's thread
            loop.call_soon_threadsafe(events.put_nowait, event)

        request.on_event = on_event
        task = asyncio.ensure_future(self.generate(request))
        # Scheduled after the task's own result, so the sentinel follows every event the engine sent.
        task.add_done_callback(lambda _: loop.call_soon_threadsafe(events.put_nowait, None))
        try:
            while (event := await events.get()) is not None:
                yield event
            task.result()  # re-raise a failure of the batch
        finally:
            if not task.done():
                request.cancelled = True
                task.cancel()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():  # first use, or a new event loop (asyncio.run again)
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        assert self._wakeup is not None
        self._wakeup.set()

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while not self._closed:
            if not self._waiting:
                self._wakeup.clear()
                await self._wakeup.wait()
                if self._closed:
                    break
                await asyncio.sleep(self.window_s)  # idle until now: give neighbours a moment to arrive
            batch = self._take_batch()
            if not batch:
                continue
            self.batch_sizes.append(len(batch))
            try:
                results = await loop.run_in_executor(
                    self._executor, self.engine.generate, [job.request for job in batch]
                )
            except Exception as exc:  # a failed batch fails its requests, not the server
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            for job, result in zip(batch, results):
                if not job.future.done():
                    job.future.set_result(result)

    def _take_batch(self) -> list[_Job]:
        batch: list[_Job] = []
        rows = 0
        while self._waiting:
            job = self._waiting[0]
            if job.future.done():  # the caller gave up while waiting
                self._waiting.popleft()
                continue
            if batch and rows + job.request.n > self.max_batch:
                break
            batch.append(self._waiting.popleft())
            rows += job.request.n
        return batch

    async def aclose(self) -> None:
        """Stop: refuse new requests, fail queued ones, let the running batch finish and deliver."""
        self._closed = True
        while self._waiting:
            job = self._waiting.popleft()
            if not job.future.done():
                job.future.set_exception(
                    RequestError("the server is shutting down", status=503, type="server_error")
                )
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=False)
