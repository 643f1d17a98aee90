"""The live detector: the offline detector run incrementally inside the gateway, feeding account states.

    detector = LiveDetector.load(LiveDetectConfig(reference=Path("honest.parquet"), action="degrade"))
    app = create_gateway(store, backend, detector=detector)

Per request the event loop does one thing: `observe(record)` appends the committed log record to a
backlog (a list append; nothing else happens on the request's path). A background task, every second,
hands the backlog to a worker thread, which folds it into per-account state in one vectorised batch
(`StatsTable.update`, the offline detector's fast path: constant work per request) and, with
indicators, counts each account's requests matching an imported indicator. Every `every` seconds the
worker scores all accounts and linked groups against the honest calibration (`detect.run.assess`,
the same code as `distillab detect`) and decides on accounts newly flagged, or past
`indicator_min_requests` matching requests. A decision raises the account's state in the store to the
configured action with the detector's reasons (`Store.escalate_state`: never lowers a state and never
touches one an admin set, both checked in the same UPDATE), or, for the action "flag", only records
it. Every replica re-reads states from the store, so a decision holds everywhere within seconds.

Each replica runs its own detector on the requests it serves: see docs/gateway.md for what that means
behind a load balancer. State lives in memory, rebuilt at start from the store: `prepare` (before the
gateway serves) marks where the log stands, and the worker first folds the last `replay_hours` of it,
up to that mark, a batch at a time with the requests served meanwhile in between, so a restarted
gateway keeps its evidence and counts no request twice. Accounts the
detector already decided on at this action or a stronger one (its rows in the `decisions` table) are not
decided on again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from distillab.detect.config import DetectConfig
from distillab.detect.features import StatsTable
from distillab.detect.indicators import IndicatorIndex, IndicatorTally, read_key
from distillab.detect.live_config import ACTIONS, LiveDetectConfig
from distillab.detect.logs import from_records
from distillab.detect.run import assess, prepare_reference
from distillab.detect.scoring import Calibration
from distillab.detect.text import Embedder
from distillab.gateway.metrics import Metrics

log = logging.getLogger("distillab.gateway")
FOLD_S = 1.0
"""Seconds between folds of the backlog into the per-account state."""
MAX_BACKLOG = 200_000
"""Requests the backlog holds; beyond it requests are skipped (counted) rather than memory growing."""
MAX_REASON = 2000
BY = "detector"
REPLAY_BATCH = 5000
"""Logged requests read and folded at a time when the detector replays the store's log at start."""


@dataclass(frozen=True)
class Decision:
    account: str
    source: str
    """"detector" (scored against the calibration) or "indicator" (matches an imported indicator)."""
    reason: str


class LiveDetector:
    """Per-account state of the traffic this gateway serves, scored in the background."""

    def __init__(
        self,
        config: LiveDetectConfig,
        reference: tuple[Embedder, Calibration] | None = None,
        indicators: IndicatorIndex | None = None,
    ):
        self.config = config
        self.calibration = reference[1] if reference else None
        self.table = StatsTable(reference[0]) if reference else None
        self.tally = (
            IndicatorTally(indicators, config.indicator_min_requests) if indicators is not None else None
        )
        self.backlog: list[dict[str, Any]] = []
        self.decided: set[str] = set()
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
        self._detect = DetectConfig(
            log="live gateway traffic", target_fpr=config.target_fpr, fdr=config.fdr, progress=False
        )

    @classmethod
    def load(cls, config: LiveDetectConfig) -> LiveDetector:
        """Prepare the reference calibration and read the indicators the config names."""
        reference = prepare_reference(config.reference) if config.reference is not None else None
        indicators = None
        if config.indicators is not None and config.indicator_key_file is not None:
            indicators = IndicatorIndex.load(config.indicators, read_key(config.indicator_key_file))
        return cls(config, reference, indicators)

    def describe(self) -> str:
        c = self.config
        parts = []
        if self.calibration is not None:
            parts.append(
                f"calibrated on {self.calibration.n} honest reference units; flags at p <= {c.target_fpr:g} "
                f"and q <= {c.fdr:g}, scored every {c.every:g}s"
            )
        if self.tally is not None:
            index = self.tally.index
            parts.append(
                f"{len(index)} indicators ({len(index.templates)} templates), acting after "
                f"{c.indicator_min_requests} matching requests"
            )
        replay = (
            f"replays the last {c.replay_hours:g} hours of the log at start"
            if c.replay_hours
            else "no replay"
        )
        return "; ".join(parts) + f"; action: {c.action}; {replay}"

    # ---- start (before the gateway serves) -----------------------------------------------------------
    def prepare(self, store: Any) -> None:
        """Mark where the store's log stands and recall the accounts this detector already decided on.
        Call before the gateway serves its first request: every later request reaches `observe`, every
        earlier one the replay."""
        self.replay_until = store.last_log_id() if self.config.replay_hours > 0 else None
        # Decided before: at this action or a stronger one (a "flag" run, then a restart with "block",
        # still blocks the accounts it had only flagged).
        strength = ACTIONS.index(self.config.action)
        self.decided |= {
            d["account"]
            for d in store.list_decisions()
            if d["by"] == BY and d["decision"] in ACTIONS and ACTIONS.index(d["decision"]) >= strength
        }

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

    # ---- the worker thread --------------------------------------------------------------------------
    def fold(self, records: list[dict[str, Any]]) -> None:
        """Add a batch of log records to the per-account state (and the indicator tally)."""
        usable = [
            r
            for r in records
            if r.get("account") and (r.get("messages") is not None or r.get("prompt") is not None)
        ]
        if not usable:
            return
        columns = from_records(usable)
        if self.table is not None:
            self.table.update(columns)
        if self.tally is not None:
            self.tally.add_columns(columns)

    def decide(self) -> list[Decision]:
        """Accounts to act on now: flagged by the calibrated score, or matching an indicator, and not
        decided on before."""
        found: dict[str, Decision] = {}
        if self.table is not None and self.calibration is not None and len(self.table):
            result = assess(self.table, self.calibration, self._detect)
            for account in result["by"]:
                if account not in self.decided:
                    found[account] = Decision(account, "detector", _reason(account, result, self.calibration))
        if self.tally is not None:
            for account, (_, reason) in self.tally.flagged().items():
                if account not in self.decided and account not in found:
                    found[account] = Decision(account, "indicator", f"live detector: {reason}")
        return list(found.values())

    def apply(self, store: Any, decisions: list[Decision]) -> list[Decision]:
        """Put the decided accounts in the configured state (or record the flag); returns the decisions
        that changed something. An account decided on is not decided on again by this detector."""
        done = []
        for decision in decisions:
            reason = decision.reason[:MAX_REASON]
            if self.config.action == "flag":
                store.note_decision(decision.account, "flag", reason, BY)
                changed = True
            else:
                changed = store.escalate_state(decision.account, self.config.action, reason, BY)
            self.decided.add(decision.account)
            if changed:
                done.append(decision)
        return done

    def step(self, store: Any, records: list[dict[str, Any]], score: bool) -> list[Decision]:
        """One round in the worker thread: fold, and when due, decide and apply."""
        self.fold(records)
        return self.apply(store, self.decide()) if score else []

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
            self._finish_round()


def _reason(account: str, result: dict[str, Any], calibration: Calibration) -> str:
    """Why `assess` flagged `account`: its own score's reasons, or its linked group's."""
    units, scored, q = result["units"], result["scored"], result["q"]
    by = result["by"][account]
    i = units.ids.index(account) if by == "own traffic" else units.ids.index(by)
    words = calibration.reasons(units.features[i], scored, i)
    stats = f"p={scored.p_value[i]:.2g}, q={q[i]:.2g}"
    if by == "own traffic":
        return f"live detector ({stats}): " + "; ".join(words)
    linked = units.linked_by.get(i, [])
    return (
        f"live detector: member of a linked group of {len(units.members[i])} accounts"
        + (f" ({', '.join(linked[:3])})" if linked else "")
        + f" ({stats}): "
        + "; ".join(words)
    )
