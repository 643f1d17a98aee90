"""The live detector in the gateway's process: the traffic this replica serves, scored in the background.

    detector = LiveDetector.load(LiveDetectConfig(reference=Path("honest.parquet"), action="degrade"))
    app = create_gateway(store, backend, detector=detector)

Per request the event loop does one thing: `observe(record)` appends the committed log record to a
backlog (a list append; nothing else happens on the request's path). A background task, every second,
hands the backlog to a worker thread, which folds it into the per-account state; every `every` seconds
the worker scores all accounts and linked groups and applies its decisions. Folding, scoring and
deciding are the shared core (`distillab.detect.live.Detector`, which the follower runs over every
replica's log too); this module adds the backlog, the schedule and the replay at start.

Each replica runs its own detector on the requests it serves: see docs/gateway.md for what that means
behind a load balancer (and `distillab detect-follow` for one detector over all replicas). State lives
in memory, rebuilt at start from the store: `prepare` (before the gateway serves) marks where the log
stands, and the worker first folds the last `replay_hours` of it, up to that mark, a batch at a time
with the requests served meanwhile in between, so a restarted gateway keeps its evidence and counts no
request twice. Accounts the detector already decided on at this action or a stronger one (its rows in
the `decisions` table) are not decided on again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from distillab.detect.indicators import IndicatorIndex
from distillab.detect.live import MAX_REASON, Detector
from distillab.detect.live_config import LiveDetectConfig
from distillab.detect.scoring import Calibration
from distillab.detect.text import Embedder
from distillab.gateway.metrics import Metrics

log = logging.getLogger("distillab.gateway")
FOLD_S = 1.0
"""Seconds between folds of the backlog into the per-account state."""
MAX_BACKLOG = 200_000
"""Requests the backlog holds; beyond it requests are skipped (counted) rather than memory growing."""
REPLAY_BATCH = 5000
"""Logged requests read and folded at a time when the detector replays the store's log at start."""


class LiveDetector(Detector):
    """Per-account state of the traffic this gateway serves, scored in the background."""

    def __init__(
        self,
        config: LiveDetectConfig,
        reference: tuple[Embedder, Calibration] | None = None,
        indicators: IndicatorIndex | None = None,
    ):
        super().__init__(config, reference, indicators)
        self.backlog: list[dict[str, Any]] = []
        self.dropped = 0
        self.replay_until: int | None = None
        """Newest log id at `prepare`: the replay folds rows up to it, `observe` everything after."""
        self.replayed = 0
        self._rows: Iterator[dict[str, Any]] | None = None
        """The replay's read of the log, consumed a batch per step."""
        self.stopping = threading.Event()
        """Set when the gateway shuts down: a replay still running stops at its next batch."""
        self.rounds = 0
        """Scoring rounds finished (each folded the backlog, decided and applied its decisions)."""
        self._round_finished = threading.Condition()

    def describe(self) -> str:
        hours = self.config.replay_hours
        replay = f"replays the last {hours:g} hours of the log at start" if hours else "no replay"
        return f"{super().describe()}; {replay}"

    # ---- start (before the gateway serves) -----------------------------------------------------------
    def prepare(self, store: Any) -> None:
        """Mark where the store's log stands and recall the accounts this detector already decided on.
        Call before the gateway serves its first request: every later request reaches `observe`, every
        earlier one the replay."""
        self.replay_until = store.last_log_id() if self.config.replay_hours > 0 else None
        self.recall(store)

    def replay(self, store: Any, now: float | None = None) -> int:
        """Fold the logged requests of the last `replay_hours` (before `now`) up to the mark `prepare` set,
        all at once (worker thread); returns how many were folded (`replayed`). The gateway replays in
        steps instead (`replay_step`), folding what it serves meanwhile between them."""
        self._rows = None if now is None else self._logged(store, now)
        while self.replay_until is not None and not self.stopping.is_set():
            self.replay_step(store, [])
        return self.replayed

    def replay_step(self, store: Any, served: list[dict[str, Any]]) -> None:
        """Worker thread: fold `served` (requests observed since the last step) and the next REPLAY_BATCH
        logged rows; the replay is over (`replay_until` None) when the log has no more."""
        self.fold(served)
        if self.replay_until is None:
            return
        if self._rows is None:
            self._rows = self._logged(store, time.time())
        batch = list(itertools.islice(self._rows, REPLAY_BATCH))
        self.fold(batch)
        self.replayed += len(batch)
        if len(batch) < REPLAY_BATCH:
            self.replay_until, self._rows = None, None

    def _logged(self, store: Any, now: float) -> Iterator[dict[str, Any]]:
        since = now - 3600 * self.config.replay_hours
        return iter(store.iter_logs(since=since, until_id=self.replay_until, batch=REPLAY_BATCH))

    # ---- the request's path (event loop) ------------------------------------------------------------
    def observe(self, record: dict[str, Any]) -> None:
        """A request whose log record was just committed: queued for the worker, nothing more."""
        if len(self.backlog) < MAX_BACKLOG:
            self.backlog.append(record)
        else:
            self.dropped += 1

    # ---- the worker thread ------------------------------------------------------------------------
    def wait_for_rounds(self, rounds: int, timeout: float) -> bool:
        """Block until `rounds` scoring rounds have finished in all (False if `timeout` seconds pass first).
        For threads other than the gateway's event loop: a test, or a tool driving a running gateway.
        The round under way may have taken its backlog before a request just answered; the one after it
        has not, so every request answered so far is scored once `rounds + 2` rounds have finished."""
        with self._round_finished:
            return self._round_finished.wait_for(lambda: self.rounds >= rounds, timeout)

    def _finish_round(self) -> None:
        with self._round_finished:
            self.rounds += 1
            self._round_finished.notify_all()

    # ---- the background task ------------------------------------------------------------------------
    async def run(self, store: Any, metrics: Metrics, on_change: Callable[[], None]) -> None:
        """Fold the backlog every FOLD_S seconds and score every `every` seconds, until cancelled.
        `on_change` runs (on the event loop) after a state changed, so this replica applies it at once."""
        loop = asyncio.get_running_loop()
        score_at = loop.time() + self.config.every
        if self.replay_until is not None:
            started = time.perf_counter()
            try:
                while self.replay_until is not None and not self.stopping.is_set():
                    # Swapped here on the event loop, where `observe` appends: no request falls between.
                    served, self.backlog = self.backlog, []
                    await run_in_threadpool(self.replay_step, store, served)
                metrics.detector_replayed.set(self.replayed)
                log.info(
                    json.dumps(
                        {
                            "event": "detector_replay",
                            "requests": self.replayed,
                            "hours": self.config.replay_hours,
                            "seconds": round(time.perf_counter() - started, 2),
                        }
                    )
                )
            except Exception:  # serve on with what was folded, rather than not at all
                log.exception(
                    f"live detector: replaying the request log failed after {self.replayed} requests; "
                    "going on with those"
                )
            if self.replayed:
                score_at = loop.time()  # act on the evidence it already has at the first round
        while True:
            await asyncio.sleep(min(FOLD_S, self.config.every))
            batch, self.backlog = self.backlog, []
            metrics.detector_backlog.set(len(batch))
            if self.dropped:
                metrics.detector_dropped.inc(self.dropped)
                self.dropped = 0
            due = loop.time() >= score_at
            started = time.perf_counter()
            if due:
                score_at = loop.time() + self.config.every
            try:
                changed = await run_in_threadpool(self.step, store, batch, due)
            except Exception:  # a detector fault must not take the gateway down; the next round retries
                log.exception("live detector: a round failed")
                if due:
                    metrics.detector_rounds.inc()
                    self._finish_round()
                continue
            if not due:
                continue
            metrics.detector_seconds.set(time.perf_counter() - started)
            for decision in changed:
                metrics.detector_flags.labels(self.config.action, decision.source).inc()
                log.info(
                    json.dumps(
                        {
                            "event": "detector",
                            "account": decision.account,
                            "action": self.config.action,
                            "by": decision.source,
                            "reason": decision.reason[:MAX_REASON],
                        }
                    )
                )
            if changed:
                on_change()
            metrics.detector_rounds.inc()
            self._finish_round()
