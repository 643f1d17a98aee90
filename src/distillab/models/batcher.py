"""Continuous batching behind asyncio: a request joins the running batch at the next decoding step.

The event loop never runs the model. One worker thread does, one step at a time (`RunningBatch.step`
samples one token for every running row). Between two steps the loop admits queued requests, up to
`max_batch` rows in all: they are prefilled together and join the rows already decoding
(`RunningBatch.add`), so a request that arrives while others decode waits for one step and its own
prefill, not for the batch to finish; rows leave the batch as soon as they finish. When the model is idle,
the first request waits `window_s` for neighbours before it starts.

A model whose cache cannot be joined (sliding-window or linear-attention layers, see
`distillab.models.kv_cache`) is still batched, but new requests then wait until the running batch is empty.

Failures: a failed prefill fails the requests being admitted; a failed step fails every request in the
batch, which starts again empty. Either way the server keeps serving.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from distillab.errors import RequestError
from distillab.models.generate import Engine
from distillab.models.requests import EngineRequest, TokenEvent
from distillab.models.running import Admitted, RunningBatch
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
        """Most sequences (requests x n) decoded together; a single larger request still runs, alone."""
        self.window_s = window_s
        self.running = RunningBatch(engine)
        """The batch being decoded; its `steps` and `row_steps` count the work done (observability, tests)."""
        self._jobs: dict[Admitted, _Job] = {}
        """The requests in `running`, and who waits for them."""
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
            task.result()  # re-raise a failure of the step
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
        if self._jobs:  # left by an event loop that ended mid-batch: their callers are gone
            self._jobs.clear()
            await loop.run_in_executor(self._executor, self.running.clear)  # after any step still running
        while self.running.rows or not self._closed:
            if not self.running.rows and not self._waiting:
                self._wakeup.clear()
                await self._wakeup.wait()
                if self._closed:
                    break
                await asyncio.sleep(self.window_s)  # idle until now: give neighbours a moment to arrive
            await self._admit(loop)
            if self.running.rows:
                await self._step(loop)

    async def _admit(self, loop: asyncio.AbstractEventLoop) -> None:
        """Prefill the queued requests that fit and join them to the running batch."""
        if not self.running.can_join:
            return
        jobs = self._take(len(self.running.rows))
        if not jobs:
            return
        try:
            admitted = await loop.run_in_executor(
                self._executor, self.running.add, [job.request for job in jobs]
            )
        except Exception as exc:  # a failed prefill fails the requests it was for
            for job in jobs:
                _fail(job, exc)
            return
        self._jobs.update(zip(admitted, jobs, strict=True))

    async def _step(self, loop: asyncio.AbstractEventLoop) -> None:
        """One decoding step; deliver the requests it finished."""
        try:
            done = await loop.run_in_executor(self._executor, self.running.step)
        except Exception as exc:  # a failed step fails the requests in it, not the server
            self.running.clear()
            for job in self._jobs.values():
                _fail(job, exc)
            self._jobs.clear()
            return
        for admitted in done:
            job = self._jobs.pop(admitted)
            if not job.future.done():
                job.future.set_result(admitted.result())

    def _take(self, running_rows: int) -> list[_Job]:
        """Queued jobs, oldest first, while they fit in `max_batch` rows next to `running_rows`."""
        jobs: list[_Job] = []
        rows = running_rows
        while self._waiting:
            job = self._waiting[0]
            if job.future.done():  # the caller gave up while waiting
                self._waiting.popleft()
                continue
            if rows and rows + job.request.n > self.max_batch:
                break
            jobs.append(self._waiting.popleft())
            rows += job.request.n
        return jobs

    async def aclose(self) -> None:
        """Stop: refuse new requests, fail queued ones, let the running ones finish and deliver."""
        self._closed = True
        while self._waiting:
            job = self._waiting.popleft()
            _fail(job, RequestError("the server is shutting down", status=503, type="server_error"))
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=False)


def _fail(job: _Job, exc: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
