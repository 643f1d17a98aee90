"""The detector follower: one live detector over every gateway replica's requests, read back from the
request log they share (`distillab detect-follow`).

    follower = Follower.open(FollowConfig(db="postgresql://gw@db/gateway", reference=Path("honest.parquet")))
    follower.run(stop)              # until `stop` (a threading.Event) is set; then a last checkpoint

It tails the log by id, a batch at a time (`WHERE id > position ORDER BY id LIMIT batch`, only the
columns detection reads: not the answers), folds the records into the same per-account state as the
gateway's in-process detector (`detect.live.Detector`: the same fold, the same `assess.assess`, the same
decisions), scores every `every` seconds and writes its decisions to the store, which every replica
re-reads within seconds.

**Exactly once across restarts.** Every `checkpoint_every` seconds (and when stopped) the position,
the ids not seen yet below it and the folded state are written in one transaction (`followers` table).
A restart, `kill -9` included, loads that checkpoint and reads on from its position: the records
folded after it were not in the saved state and are folded again, once. Decisions made after it are
recalled from the `decisions` table, so none is made twice.

**Ids committed out of order.** PostgreSQL hands out ids when a row is inserted, not when it is
committed: with several writers, id 101 can be visible while id 100 is still being committed. A hole
below the newest id read is kept as a gap and read again at every poll until its row appears (folded
then, once) or `settle` seconds pass (a rolled-back insert leaves a hole that never fills; those are
counted as given up). A row committed more than `settle` seconds after a later id became visible is
missed: the only way a record is lost. (A snapshot's list of transactions in progress cannot close the
gap exactly: an insert takes its id before its transaction gets the xid a snapshot would show.) SQLite
commits one writer at a time, so there its holes are rolled-back ids only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from distillab.db.lease import Lease
from distillab.db.schema import FollowerCheckpoint
from distillab.db.store import Store
from distillab.detect.checkpoint import dump, fingerprint, restore
from distillab.detect.live import MAX_REASON, Decision, Detector
from distillab.detect.live_config import FollowConfig
from distillab.detect.logs import COLUMNS
from distillab.errors import ConfigError, StoreError

log = logging.getLogger("distillab.follow")
LEASE_WAIT_S = 1.0


class LogCursor:
    """Where a reader of the log is: the highest id read, and the ids below it not seen yet (gaps: inclusive
    ranges, each with the time it was first seen missing)."""

    def __init__(self, position: int, gaps: Iterable[tuple[int, int, float]] = ()):
        self.position = position
        self.gaps = sorted(gaps)

    def ranges(self) -> list[tuple[int, int]]:
        return [(lo, hi) for lo, hi, _ in self.gaps]

    def advance(self, ids: list[int], now: float) -> None:
        """Ids read above the position (ascending): the holes between them become gaps."""
        for i in ids:
            if i > self.position + 1:
                self.gaps.append((self.position + 1, i - 1, now))
            self.position = max(self.position, i)

    def fill(self, ids: Iterable[int]) -> None:
        """Ids read inside gaps: no longer missing."""
        found = sorted(set(ids))
        if not found:
            return
        kept = []
        for lo, hi, since in self.gaps:
            for i in (i for i in found if lo <= i <= hi):
                if i > lo:
                    kept.append((lo, i - 1, since))
                lo = i + 1
            if lo <= hi:
                kept.append((lo, hi, since))
        self.gaps = kept

    def expire(self, now: float, settle: float) -> int:
        """Give up the gaps missing for more than `settle` seconds; returns how many ids they held."""
        old = [(lo, hi) for lo, hi, since in self.gaps if now - since > settle]
        self.gaps = [g for g in self.gaps if now - g[2] <= settle]
        return sum(hi - lo + 1 for lo, hi in old)


class Follower:
    """Reads the shared log, folds it into a `Detector`, scores and decides on a schedule, checkpoints."""

    def __init__(
        self,
        config: FollowConfig,
        store: Store,
        detector: Detector,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.store = store
        self.detector = detector
        self.clock = clock
        """Epoch seconds: times the schedule and how long a gap has been missing (saved with it)."""
        self.fingerprint = fingerprint(detector)
        self.cursor = LogCursor(0)
        self.folded = 0
        """Records folded in all (saved with the state: the count the state holds)."""
        self.given_up = 0
        self.rounds = 0
        self.newest_ts: float | None = None
        """The log time (`ts`) of the newest record folded: how far behind the follower is."""
        self.lease: Lease | None = None

    @classmethod
    def open(cls, config: FollowConfig) -> Follower:
        """Open the store (it must exist) and prepare the detector's reference and indicators."""
        store = Store(config.db, create=False)
        try:
            return cls(config, store, Detector.load(config))
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        self.store.close()

    # ---- start ------------------------------------------------------------------------------------
    def acquire(self, stop: threading.Event) -> bool:
        """Take the lease of this follower's name, waiting while another process holds it; False if
        `stop` was set first."""
        waited = False
        while not stop.is_set():
            self.lease = Lease.take(self.store, f"follower:{self.config.name}")
            if self.lease is not None:
                return True
            if not waited:
                log.info(_event("follower_waiting", name=self.config.name, why="another process holds it"))
                waited = True
            stop.wait(LEASE_WAIT_S)
        return False

    def start(self) -> str:
        """Resume from the saved checkpoint, or start afresh; recall past decisions. Returns a line
        saying where it starts."""
        with self._store_errors():
            return self._start()

    def _start(self) -> str:
        saved = self.store.follower(self.config.name)
        newest = self.store.last_log_id()
        if saved is not None and self.config.fresh:
            self.store.forget_follower(self.config.name)
            saved = None
        if saved is not None and saved.position > newest:
            raise ConfigError(
                f"{self.store.url}: follower {self.config.name!r} stopped at request-log id "
                f"{saved.position}, but the log ends at {newest}: it was replaced or cut; start again "
                "with --fresh"
            )
        if saved is not None and saved.fingerprint != self.fingerprint:
            log.warning(
                _event(
                    "follower_fresh",
                    name=self.config.name,
                    why="the reference or indicators changed since the checkpoint: its state cannot go on",
                )
            )
            saved = None
        self.detector.recall(self.store)
        if saved is not None:
            restore(self.detector, saved.state)
            self.cursor = LogCursor(saved.position, saved.gaps)
            self.folded = saved.folded
            return (
                f"resuming at request-log id {saved.position} with {saved.folded:,} records folded "
                f"(checkpoint of {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(saved.saved))})"
            )
        hours = self.config.replay_hours
        first = self.store.first_log_id(self.clock() - 3600 * hours) if hours > 0 else None
        self.cursor = LogCursor(newest if first is None else first - 1)
        window = f"the last {hours:g} hours of the log" if hours > 0 else "new records only"
        return f"starting afresh at request-log id {self.cursor.position}: {window}"

    # ---- one poll ---------------------------------------------------------------------------------
    def poll(self) -> tuple[int, bool]:
        """Read what is new (and what appeared in the gaps) and fold it. Returns (records read, whether
        the follower has caught up with the log)."""
        rows = self.store.log_rows_in(self.cursor.ranges(), COLUMNS) if self.cursor.gaps else []
        self.cursor.fill(r["id"] for r in rows)
        tail = self.store.log_rows_after(self.cursor.position, self.config.batch, COLUMNS)
        now = self.clock()
        self.cursor.advance([r["id"] for r in tail], now)
        self.given_up += self.cursor.expire(now, self.config.settle)
        records = rows + tail
        self.detector.fold(records)
        self.folded += len(records)
        if records:
            newest = max(float(r["ts"]) for r in records)
            self.newest_ts = newest if self.newest_ts is None else max(self.newest_ts, newest)
        return len(records), len(tail) < self.config.batch

    def score(self) -> list[Decision]:
        """Decide on the state folded so far and apply the decisions; returns those that changed something."""
        changed = self.detector.apply(self.store, self.detector.decide())
        self.rounds += 1
        for decision in changed:
            log.info(
                _event(
                    "detector",
                    account=decision.account,
                    action=self.config.action,
                    by=decision.source,
                    reason=decision.reason[:MAX_REASON],
                )
            )
        return changed

    def save(self) -> None:
        """Write the checkpoint: position, gaps and folded state in one transaction (after checking
        that this process still holds its name's lease, when it took one)."""
        if self.lease is not None:
            self.lease.check()
        checkpoint = FollowerCheckpoint(
            self.config.name,
            self.cursor.position,
            self.cursor.gaps,
            self.folded,
            self.fingerprint,
            dump(self.detector),
            self.clock(),
        )
        self.store.save_follower(checkpoint)

    # ---- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Poll, fold, score every `every` seconds (and as soon as it first catches up), checkpoint every
        `checkpoint_every` seconds, until `stop` is set; then save a last checkpoint."""
        c = self.config
        now = self.clock()
        score_at, save_at, scored = now + c.every, now + c.checkpoint_every, False
        with self._store_errors():
            while not stop.is_set():
                started = time.perf_counter()
                _, caught_up = self.poll()
                now = self.clock()
                if now >= score_at or (caught_up and not scored):
                    changed = self.score()
                    score_at, scored = now + c.every, True
                    log.info(
                        _event(
                            "follower_round",
                            position=self.cursor.position,
                            folded=self.folded,
                            accounts=len(self.detector.table) if self.detector.table is not None else None,
                            decisions=len(changed),
                            gaps=len(self.cursor.gaps),
                            given_up=self.given_up,
                            behind_s=None if self.newest_ts is None else round(now - self.newest_ts, 2),
                            seconds=round(time.perf_counter() - started, 3),
                        )
                    )
                if now >= save_at:
                    self.save()
                    save_at = self.clock() + c.checkpoint_every
                if caught_up:
                    stop.wait(c.poll)
            self.save()

    @contextmanager
    def _store_errors(self) -> Iterator[None]:
        """The store failing (gone, restarted) as a StoreError. Crash-only: the supervisor restarts the
        follower, which resumes from its last checkpoint."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            reason = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(
                f"follower {self.config.name!r}: the store {self.store.url} failed ({reason})"
            ) from None


def _event(event: str, **fields: Any) -> str:
    return json.dumps({"event": event, **fields})
