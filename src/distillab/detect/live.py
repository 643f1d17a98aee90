"""The live detector's core: per-account state folded from request-log records, scored on a schedule
with the offline detector's code, decisions applied to the store.

    detector = Detector.load(LiveDetectConfig(reference=Path("honest.parquet"), action="degrade"))
    detector.recall(store)                      # accounts it decided on before are not decided on again
    detector.fold(records)                      # committed log records, a batch at a time
    changed = detector.apply(store, detector.decide())

Two drivers run it: the gateway's in-process `LiveDetector` (`distillab.gateway.detector`: the records
of the requests one replica serves) and the follower (`distillab.detect.follow`: every replica's
records, read back from the shared log). Both fold the same way and decide the same way.

`fold` adds records to a `StatsTable` (the offline detector's vectorised fast path: constant work per
request) and, with indicators, counts each account's requests matching an imported indicator. `decide`
scores all accounts and linked groups against the honest calibration (`detect.assess.assess`, the same
code as `distillab detect`) and returns the accounts newly flagged, or past `indicator_min_requests`
matching requests. `apply` raises a decided account's state in the store to the configured action with
the detector's reasons (`Store.escalate_state`: never lowers a state and never touches one an admin
set, both checked in the same UPDATE), or, for the action "flag", only records it. Every replica
re-reads states from the store, so a decision holds everywhere within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from distillab.detect.assess import assess, link_all, overlaps_for
from distillab.detect.config import DetectConfig
from distillab.detect.features import StatsTable
from distillab.detect.indicators import IndicatorIndex, IndicatorTally, read_key
from distillab.detect.live_config import ACTIONS, LiveDetectConfig
from distillab.detect.logs import from_records
from distillab.detect.run import prepare_reference, prompt_embedder
from distillab.detect.scoring import Calibration
from distillab.detect.text import Embedder

MAX_REASON = 2000
BY = "detector"
"""Who the detector's decisions are recorded as (`state_by`, the `decisions` table's `by`)."""


@dataclass(frozen=True)
class Decision:
    account: str
    source: str
    """"detector" (scored against the calibration) or "indicator" (matches an imported indicator)."""
    reason: str


class Detector:
    """Per-account state of the records folded so far, and the decisions made on it."""

    def __init__(
        self,
        config: LiveDetectConfig,
        reference: tuple[Embedder, Calibration] | None = None,
        indicators: IndicatorIndex | None = None,
    ):
        self.config = config
        self.calibration = reference[1] if reference else None
        self.table = (
            StatsTable(reference[0], prompt_embedder(reference[0], reference[1], config.embedder))
            if reference
            else None
        )
        self.tally = (
            IndicatorTally(indicators, config.indicator_min_requests) if indicators is not None else None
        )
        self.decided: set[str] = set()
        self.overlaps = overlaps_for(self.calibration)
        """Paraphrase overlaps kept between scorings (only the accounts whose kept prompts changed are
        compared again)."""
        self._detect = DetectConfig(
            log="live gateway traffic", target_fpr=config.target_fpr, fdr=config.fdr, progress=False
        )

    @classmethod
    def load(cls, config: LiveDetectConfig) -> Self:
        """Prepare the reference calibration and read the indicators the config names."""
        reference = (
            prepare_reference(config.reference, embedder=config.embedder)
            if config.reference is not None
            else None
        )
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
        return "; ".join(parts) + f"; action: {c.action}"

    def recall(self, store: Any) -> None:
        """Recall the accounts decided on before at this action or a stronger one (a "flag" run, then a
        restart with "block", still blocks the accounts it had only flagged)."""
        strength = ACTIONS.index(self.config.action)
        self.decided |= {
            d["account"]
            for d in store.list_decisions()
            if d["by"] == BY and d["decision"] in ACTIONS and ACTIONS.index(d["decision"]) >= strength
        }

    def fold(self, records: list[dict[str, Any]]) -> None:
        """Add a batch of log records to the per-account state (and the indicator tally). Records of no
        account (refused before authentication) or without a prompt are skipped."""
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
            links = link_all(self.table, self.calibration, self.overlaps)
            result = assess(self.table, self.calibration, self._detect, links=links)
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
        """Fold, and when due, decide and apply."""
        self.fold(records)
        return self.apply(store, self.decide()) if score else []


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
