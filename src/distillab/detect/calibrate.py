"""From a request log to scored units: embedder fitting, per-account stats, linked groups, calibration.

    embedder, batches = open_log("reference.parquet")          # fits the embedder on its first prompts
    table = collect(batches, embedder)
    reference = calibrate(table, link(table))         # honest traffic only
    units, _ = units_of(log_table, link(log_table), reference.prior)
    scored = reference.score(units.features)

A *unit* is an account or a linked group of accounts pooled into one (its traffic judged as one
actor's). `units_of` builds both, with the leave-one-out exclusions the self-reference mode needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from .alike import Profiles
from .embeddings import PromptEmbedder
from .features import COUNTS, AccountStats, StatsTable, distinct, prior_of, raw_features, shrink, table_of
from .grouptest import calibrate_groups, pooled_stats
from .linking import Links, leave_out, link
from .logs import Columns, read_batches
from .paraphrase import fit_null
from .scoring import FAMILIES, Calibration
from .text import Embedder

SAMPLE = 20_000
"""Prompts the embedder (IDF weights, topic centroids) is fitted on: the first ones of the reference."""
PER_ACCOUNT = 200
"""At most this many of them from one account, so one heavy account cannot shape the topics."""


def open_log(source: str | Path, embedder: Embedder | None = None) -> tuple[Embedder, Iterator[Columns]]:
    """The log's batches, and an embedder (fitted on the log's first prompts unless one is given)."""
    batches = read_batches(source)
    if embedder is not None:
        return embedder, batches
    buffered: list[Columns] = []
    texts: list[str] = []
    per_account: dict[str, int] = {}
    for columns in batches:
        buffered.append(columns)
        for name, text in zip(columns.account.to_pylist(), columns.text.to_pylist()):
            if per_account.get(name, 0) < PER_ACCOUNT:
                per_account[name] = per_account.get(name, 0) + 1
                texts.append(text)
        if len(texts) >= SAMPLE:
            break
    return Embedder.fit(texts[:SAMPLE]), chain(buffered, batches)


def prefetch(batches: Iterator[Columns]) -> Iterator[Columns]:
    """The same batches, the next one read in a background thread while the caller works on this one
    (reading is mostly Arrow kernels, which release the GIL, so a second core does it)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, batches, None)
        while True:
            columns = pending.result()
            if columns is None:
                return
            pending = pool.submit(next, batches, None)
            yield columns


def collect(
    batches: Iterator[Columns], embedder: Embedder, prompts: PromptEmbedder | None = None
) -> StatsTable:
    table = StatsTable(embedder, prompts)
    for columns in prefetch(batches):
        table.update(columns)
    return table


@dataclass
class Units:
    """Accounts then groups: features, ids, members, and who each may not be compared with."""

    features: np.ndarray
    ids: list[str]
    members: list[list[str]]
    requests: list[int]
    is_group: list[bool]
    volume: np.ndarray
    """log requests per active day (per member for groups)."""
    pooled: list[AccountStats] = field(default_factory=list)
    """The groups' pooled stats, in group order."""
    exclude: list[list[int]] = field(default_factory=list)
    linked_by: dict[int, list[str]] = field(default_factory=dict)


def units_of(
    table: StatsTable, links: Links, prior: dict[str, float] | None = None
) -> tuple[Units, dict[str, float]]:
    """Every account and every linked group as a scored unit (features shrunk towards `prior`, by default
    the table's own account average)."""
    raw = table.raw()
    prior = prior if prior is not None else prior_of(raw)
    features = [shrink(raw, prior)]
    volume = [raw["volume"]]
    n_accounts = len(table.names)
    ids, members = list(table.names), [[name] for name in table.names]
    requests = [int(x) for x in table.counts["n"][:n_accounts]]
    if links.clusters:
        pooled = pooled_stats(table, links.clusters)
        pooled_raw = table_of(pooled, table.embedder).raw()
        features.append(shrink(pooled_raw, prior))
        volume.append(pooled_raw["volume"])
        ids += [s.account for s in pooled]
        members += [list(group) for group in links.clusters]
        requests += [s.n for s in pooled]
    units = Units(
        np.concatenate(features),
        ids,
        members,
        requests,
        [False] * n_accounts + [True] * len(links.clusters),
        np.concatenate(volume),
    )
    units.pooled = pooled if links.clusters else []
    unit_of_group = {name: n_accounts + i for i, group in enumerate(links.clusters) for name in group}
    why: dict[int, set[str]] = {n_accounts + i: set() for i in range(len(links.clusters))}
    for pair, pair_reasons in links.reasons.items():  # a linked pair lies in one group
        unit = unit_of_group.get(next(iter(pair)))
        if unit is not None:
            why[unit].update(pair_reasons)
    units.linked_by = {unit: sorted(reasons)[:10] for unit, reasons in why.items()}
    for i in range(len(ids)):
        if i < n_accounts:
            group_unit = unit_of_group.get(ids[i])
            mates = [] if group_unit is None else [table.index[m] for m in members[group_unit]] + [group_unit]
            units.exclude.append(sorted({i, *mates}))
        else:
            units.exclude.append(sorted({i, *(table.index[m] for m in members[i])}))
    return units, prior


def without_each(
    table: StatsTable, pooled: AccountStats, members: list[str], prior: dict[str, float]
) -> np.ndarray:
    """Features of the group with each member left out in turn (rows in `members` order): counts and
    topics are subtracted exactly; distinct prompts (a sketch, not subtractable) scale with the prompts
    left, and active days are the whole group's."""
    rows = np.array([table.index[m] for m in members])
    counts = {k: pooled.counts[k] - table.counts[k][rows] for k in COUNTS}
    counts["members"] = np.full(len(rows), max(pooled.members - 1, 1), np.float64)
    raw = raw_features(
        counts,
        pooled.topics[None, :] - table.topics[rows],
        pooled.hll[None, :0],
        np.full(len(rows), float(len(pooled.days))),
    )
    whole = float(min(distinct(pooled.hll)[0], pooled.counts["embedded"]))
    share = whole / pooled.counts["embedded"] if pooled.counts["embedded"] else 0.0
    raw["novelty"] = (share * counts["embedded"], counts["embedded"])
    return shrink(raw, prior)


def score_accounts(
    stats: list[AccountStats], calibration: Calibration, *, target_fpr: float = 0.001
) -> list[dict[str, Any]]:
    """Score accounts' current stats (e.g. `AccountStats` kept up to date by a live gateway) against an
    honest calibration: distance, p-value, whether p <= `target_fpr`, and the reasons in words."""
    if not stats:
        return []
    table = table_of(stats, stats[0].embedder)
    features = shrink(table.raw(), calibration.prior)
    scored = calibration.score(features)
    return [
        {
            "account": s.account,
            "requests": s.n,
            "distance": float(scored.distance[i]),
            "behaviour": list(FAMILIES)[int(scored.family[i])],
            "p_value": float(scored.p_value[i]),
            "flagged": bool(scored.p_value[i] <= target_fpr),
            "reasons": calibration.reasons(features[i], scored, i),
        }
        for i, s in enumerate(stats)
    ]


def calibrate(table: StatsTable, links: Links | None = None) -> Calibration:
    """A calibration on `table`'s accounts, honest traffic (for the log itself as its reference, see
    `selfcal.self_calibrate`). Linked groups are judged against the same honest accounts (their
    volume per member) and the pooled groups that linking finds among them, as one actor."""
    raw = table.raw()
    prior = prior_of(raw)
    features = shrink(raw, prior)
    links = links if links is not None else link(table)
    units, _ = units_of(table, links, prior)
    calibration = Calibration(features, prior, names=table.names, exclude=leave_out(table, links))
    calibration.set_groups(
        units.features[len(table.names) :],
        [[table.index[m] for m in group] for group in units.members[len(table.names) :]],
    )
    if table.behaviour is not None:
        calibration.behaviour = Profiles.of(table, prior)
    calibration.group_null = calibrate_groups(table, prior, links)
    if table.behaviour is not None:
        calibration.paraphrase = fit_null(table, [[table.index[m] for m in c] for c in links.clusters])
    return calibration
