"""The asyncio batcher: requests join the running batch between steps, leave when done, fail alone."""

from __future__ import annotations

import asyncio

import pytest

from distillab.errors import RequestError
from distillab.models.batcher import Batcher
from distillab.models.generate import Engine, EngineRequest, TokenEvent
from distillab.models.samples import SamplingParams
from no_eos import NoEos


class Watch:
    """Records, from the engine's thread, the step each token of a request was sampled in."""

    def __init__(self, batcher: Batcher, request: EngineRequest, after: int = 0):
        self.batcher = batcher
        self.steps: list[int] = []
        self.after = after
        self.reached = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        request.on_event = self.on_event

    def on_event(self, event: TokenEvent) -> None:
        self.steps.append(self.batcher.running.steps)
        if len(self.steps) == self.after:
            self.loop.call_soon_threadsafe(self.reached.set)


def _long(engine: Engine, max_tokens: int = 200, seed: int = 1) -> EngineRequest:
    return EngineRequest(
        engine.encode_text("import json"),
        SamplingParams(max_tokens=max_tokens, seed=seed),
        processor=NoEos(engine.eos_ids),
    )


def test_a_late_request_joins_the_running_batch_and_finishes_first(engine: Engine) -> None:
    def short() -> EngineRequest:
        return EngineRequest(
            engine.encode_text("Ann has 3 pens."), SamplingParams(max_tokens=5, seed=42), n=2
        )

    alone = engine.generate([short()])[0]

    async def run() -> tuple[list[str], Watch, Watch, list[list[int] | None]]:
        batcher = Batcher(engine, max_batch=8, window_s=0)
        long, late = _long(engine), short()
        long_watch, late_watch = Watch(batcher, long, after=10), Watch(batcher, late)
        finished: list[str] = []

        async def one(name: str, request: EngineRequest) -> list[list[int] | None]:
            generation = await batcher.generate(request)
            finished.append(name)
            return [s.token_ids for s in generation.samples]

        long_task = asyncio.create_task(one("long", long))
        await long_watch.reached.wait()  # the long request is 10 tokens in
        late_ids = await one("late", late)
        assert not long_task.done()
        assert len((await long_task)[0] or []) == 200
        await batcher.aclose()
        return finished, long_watch, late_watch, late_ids

    finished, long_watch, late_watch, late_ids = asyncio.run(run())
    assert finished == ["late", "long"]
    # The late request's tokens were sampled in steps the long one also ran in: one forward pass for both.
    assert set(late_watch.steps) <= set(long_watch.steps)
    assert long_watch.steps[0] < late_watch.steps[0] and late_watch.steps[-1] < long_watch.steps[-1]
    assert len(late_watch.steps) == 10  # n=2 rows x 5 tokens
    assert late_ids == [s.token_ids for s in alone.samples]  # seeded: as alone, though it joined mid-run


def test_cancelling_one_request_leaves_the_others_running(engine: Engine) -> None:
    keep_alone = engine.generate([_long(engine, max_tokens=60, seed=7)])[0].samples[0]

    async def run() -> tuple[list[int] | None, Watch, int, int]:
        batcher = Batcher(engine, max_batch=8, window_s=0.01)
        keep, drop = _long(engine, max_tokens=60, seed=7), _long(engine, max_tokens=60, seed=8)
        drop_watch = Watch(batcher, drop, after=3)
        kept = asyncio.create_task(batcher.generate(keep))
        dropped = asyncio.create_task(batcher.generate(drop))
        await drop_watch.reached.wait()
        dropped.cancel()  # the caller left: the batcher flags the request, the engine drops its row
        with pytest.raises(asyncio.CancelledError):
            await dropped
        steps, rows = batcher.running.steps, batcher.running.row_steps
        sample = (await kept).samples[0]
        await batcher.aclose()
        return sample.token_ids, drop_watch, batcher.running.steps - steps, batcher.running.row_steps - rows

    kept_ids, drop_watch, steps, rows = asyncio.run(run())
    assert kept_ids == keep_alone.token_ids and len(kept_ids or []) == 60
    assert len(drop_watch.steps) < 10  # it stopped within a step or two of the cancel
    assert rows <= steps + 2  # after it left, the survivor decoded alone


def test_a_failed_step_fails_its_requests_not_the_server(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> None:
        batcher = Batcher(engine, max_batch=8, window_s=0.01)
        original_step, original_add = batcher.running.step, batcher.running.add
        calls = 0

        def broken_step() -> list:  # type: ignore[type-arg]
            nonlocal calls
            calls += 1
            if calls == 3:
                raise RuntimeError("out of memory, say")
            return original_step()

        monkeypatch.setattr(batcher.running, "step", broken_step)
        results = await asyncio.gather(
            batcher.generate(_long(engine, max_tokens=20)),
            batcher.generate(_long(engine, max_tokens=20)),
            return_exceptions=True,
        )
        assert [type(r) for r in results] == [RuntimeError, RuntimeError]
        assert batcher.running.rows == []
        assert len((await batcher.generate(_long(engine, max_tokens=8))).samples[0].token_ids or []) == 8

        def broken_add(requests: list[EngineRequest]) -> list:  # type: ignore[type-arg]
            raise RuntimeError("prefill failed")

        watch_request = _long(engine, max_tokens=30)
        watch = Watch(batcher, watch_request, after=5)
        running = asyncio.create_task(batcher.generate(watch_request))
        await watch.reached.wait()
        monkeypatch.setattr(batcher.running, "add", broken_add)
        with pytest.raises(RuntimeError, match="prefill failed"):
            await batcher.generate(_long(engine, max_tokens=5))  # joining failed: only the newcomer fails
        monkeypatch.setattr(batcher.running, "add", original_add)
        assert len((await running).samples[0].token_ids or []) == 30
        await batcher.aclose()

    asyncio.run(run())


def test_aclose_refuses_new_fails_queued_and_lets_running_finish(engine: Engine) -> None:
    async def run() -> None:
        batcher = Batcher(engine, max_batch=1, window_s=0)
        first = _long(engine, max_tokens=40)
        watch = Watch(batcher, first, after=2)
        running = asyncio.create_task(batcher.generate(first))
        await watch.reached.wait()
        queued = asyncio.create_task(batcher.generate(_long(engine, max_tokens=5)))  # no room: max_batch=1
        await asyncio.sleep(0)
        await batcher.aclose()
        with pytest.raises(RequestError, match="shutting down"):
            await queued
        with pytest.raises(RequestError, match="shutting down"):
            await batcher.generate(_long(engine, max_tokens=5))
        assert len((await running).samples[0].token_ids or []) == 40

    asyncio.run(run())
