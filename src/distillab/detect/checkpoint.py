"""A live detector's folded state as bytes (the follower's checkpoints), and what it was folded with.

    blob = dump(detector)                 # its StatsTable and indicator tally
    restore(detector, blob)               # into a fresh detector of the same reference and indicators
    fingerprint(detector)                 # equal for detectors whose states can continue each other

The bytes are an .npz archive: the table's arrays (its behaviour state's included), its sets and small
maps as flat arrays or one JSON member, and the tally as JSON. Nothing in it is pickled (numpy reads it
with allow_pickle=False), so loading a checkpoint from the database runs no code. A table with state
this module does not know (an attribute added to `StatsTable` later) is refused at `dump` rather than
saved without it.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any, cast

import numpy as np

from distillab.detect.features import COUNTS, StatsTable
from distillab.detect.indicators import Hits, IndicatorTally, key_check
from distillab.errors import DataError

VERSION = 3
BEHAVIOUR_ARRAYS = ("ask", "asked", "style", "phrasing", "last_seen", "sample", "sample_hash")
TABLE_STATE = {
    "embedder",  # given again at restore (it comes from the reference), not saved
    "index",  # rebuilt from the names
    "_capacity",
    "names",
    "counts",
    "topics",
    "hll",
    "skeletons",
    "first_ts",
    "last_ts",
    "members",
    "days",
    "hours",
    "meta",
    "behaviour",  # its arrays saved; its prompt embedder given again at restore
}
TALLY_STATE = {"index", "min_requests", "hits", "support"}


def fingerprint(detector: Any) -> str:
    """A hash of what the state depends on: the reference's embedder and the indicators with their key."""
    h = hashlib.sha256(f"distillab-checkpoint {VERSION}".encode())
    table: StatsTable | None = detector.table
    if table is not None and table.embedder is not None:
        embedder = table.embedder
        h.update(b"embedder")
        for array in (embedder.idf, embedder.centroids, np.array([embedder.seed], np.int64)):
            h.update(np.ascontiguousarray(array).tobytes())
        if table.behaviour is not None:
            h.update(f"behaviour {table.behaviour.prompts.name} {table.behaviour.prompts.dim}".encode())
    tally: IndicatorTally | None = detector.tally
    if tally is not None:
        h.update(json.dumps(["indicators", tally.index.ids, key_check(tally.index.key)]).encode())
        h.update(str(tally.index.threshold).encode())
    return h.hexdigest()[:32]


def dump(detector: Any) -> bytes:
    """The detector's folded state (table and tally) as bytes."""
    arrays: dict[str, np.ndarray] = {}
    other: dict[str, Any] = {"version": VERSION}
    if detector.table is not None:
        other["table"] = _dump_table(detector.table, arrays)
    if detector.tally is not None:
        other["tally"] = _dump_tally(detector.tally)
    arrays["json"] = np.frombuffer(json.dumps(other).encode(), np.uint8)
    out = io.BytesIO()
    np.savez_compressed(out, **cast(dict[str, Any], arrays))  # the stubs read a key as allow_pickle
    return out.getvalue()


def restore(detector: Any, blob: bytes) -> None:
    """Load `dump`'s bytes into a detector built from the same reference and indicators (same
    `fingerprint`), replacing its table and tally state."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        other = json.loads(arrays.pop("json").tobytes())
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"detector checkpoint: unreadable ({exc})") from None
    if other.get("version") != VERSION:
        raise DataError(f"detector checkpoint: format {other.get('version')}, this version reads {VERSION}")
    if ("table" in other) != (detector.table is not None) or ("tally" in other) != (
        detector.tally is not None
    ):
        raise DataError("detector checkpoint: saved by a detector with another reference or indicators")
    if detector.table is not None:
        _restore_table(detector.table, arrays, other["table"])
    if detector.tally is not None:
        _restore_tally(detector.tally, other["tally"])


# ---- the table ------------------------------------------------------------------------------------
def _dump_table(table: StatsTable, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    unknown = set(vars(table)) - TABLE_STATE
    if unknown:  # state a checkpoint would silently drop
        raise RuntimeError(f"detector checkpoint: StatsTable has state it does not save: {sorted(unknown)}")
    n = len(table)
    for name, values in table.counts.items():
        arrays[f"counts.{name}"] = values[:n]
    for name in ("topics", "hll", "skeletons", "first_ts", "last_ts", "members"):
        arrays[name] = getattr(table, name)[:n]
    arrays["days.sizes"] = np.fromiter((len(d) for d in table.days), np.int64, n)
    arrays["days.values"] = np.fromiter((v for d in table.days for v in sorted(d)), np.int64)
    arrays["hours.sizes"] = np.fromiter((len(h) for h in table.hours), np.int64, n)
    arrays["hours.keys"] = np.fromiter((k for h in table.hours for k in h), np.int64)
    arrays["hours.counts"] = np.fromiter((c for h in table.hours for c in h.values()), np.int64)
    if table.behaviour is not None:
        for name in BEHAVIOUR_ARRAYS:
            arrays[f"behaviour.{name}"] = getattr(table.behaviour, name)[:n]
        for name, values in table.behaviour.scalars.items():
            arrays[f"behaviour.scalars.{name}"] = values[:n]
    return {"names": table.names, "meta": {k: [sorted(s) for s in v] for k, v in table.meta.items()}}


def _restore_table(table: StatsTable, arrays: dict[str, np.ndarray], other: dict[str, Any]) -> None:
    names: list[str] = other["names"]
    n = len(names)
    table.names = list(names)
    table.index = {name: i for i, name in enumerate(names)}
    table._capacity = n
    table.counts = {name: arrays[f"counts.{name}"].copy() for name in COUNTS}
    for name in ("topics", "hll", "skeletons", "first_ts", "last_ts", "members"):
        setattr(table, name, arrays[name].copy())
    table.days = [set(map(int, part)) for part in _split(arrays["days.values"], arrays["days.sizes"])]
    keys = _split(arrays["hours.keys"], arrays["hours.sizes"])
    counts = _split(arrays["hours.counts"], arrays["hours.sizes"])
    table.hours = [dict(zip(k.tolist(), c.tolist())) for k, c in zip(keys, counts)]
    table.meta = {k: [set(values) for values in v] for k, v in other["meta"].items()}
    sizes = [len(table.topics), len(table.days), len(table.hours), *map(len, table.counts.values())]
    if table.behaviour is not None:
        behaviour = table.behaviour
        if f"behaviour.{BEHAVIOUR_ARRAYS[0]}" not in arrays:
            raise DataError("detector checkpoint: saved without behaviour state")
        for name in BEHAVIOUR_ARRAYS:
            setattr(behaviour, name, arrays[f"behaviour.{name}"].copy())
        behaviour.scalars = {name: arrays[f"behaviour.scalars.{name}"].copy() for name in behaviour.scalars}
        sizes += [len(getattr(behaviour, name)) for name in BEHAVIOUR_ARRAYS]
        sizes += [len(v) for v in behaviour.scalars.values()]
    if any(size != n for size in sizes):
        raise DataError("detector checkpoint: its table's parts disagree on the number of accounts")


def _split(values: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(sizes)[:-1]) if len(sizes) else []


# ---- the indicator tally --------------------------------------------------------------------------
def _dump_tally(tally: IndicatorTally) -> dict[str, Any]:
    unknown = set(vars(tally)) - TALLY_STATE
    if unknown:
        raise RuntimeError(
            f"detector checkpoint: IndicatorTally has state it does not save: {sorted(unknown)}"
        )
    ids = tally.index.ids
    return {
        "hits": {
            account: [[ids[i], h.requests, h.best, h.total] for i, h in found.items()]
            for account, found in tally.hits.items()
        },
        "support": {
            account: sorted([kind, ids[i]] for kind, i in found) for account, found in tally.support.items()
        },
    }


def _restore_tally(tally: IndicatorTally, other: dict[str, Any]) -> None:
    position = {indicator: i for i, indicator in enumerate(tally.index.ids)}
    tally.hits = {
        account: {
            position[ind]: Hits(int(requests), float(best), float(total))
            for ind, requests, best, total in found
        }
        for account, found in other["hits"].items()
    }
    tally.support = {
        account: {(kind, position[ind]) for kind, ind in found} for account, found in other["support"].items()
    }
