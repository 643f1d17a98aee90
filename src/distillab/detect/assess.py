"""Score a table's accounts and linked groups against an honest calibration, and flag them.

    links = link_all(table, calibration)
    result = assess(table, calibration, config, links=links)
    result["by"]  # account -> "own traffic" or the id of the flagged group it goes down with

`distillab detect` (`run.py`) and the live detector (`live.py`) both score through `assess`, so a log
and the gateway flag alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distillab.detect.calibrate import Units, units_of, without_each
from distillab.detect.config import DetectConfig
from distillab.detect.features import StatsTable
from distillab.detect.grouptest import GroupNull, GroupTests, calibrated, rank_groups
from distillab.detect.kept import Overlaps
from distillab.detect.linking import Links, link
from distillab.detect.paraphrase import PARAPHRASE, ParaphraseGroup, paraphrase_groups
from distillab.detect.scoring import Calibration, Scored, benjamini_hochberg

MEMBER_P = 0.05
MEMBER_SLACK = 0.25
"""A member of a flagged group is flagged with it when its own p-value is at most MEMBER_P, or when
leaving it out would not make the group look more extreme (its distance would not rise by more than
MEMBER_SLACK): an honest account linked to a campaign by a shared network dilutes the group and so
does not go down with it, while each of a campaign's thin accounts carries its share of the evidence."""


def link_all(
    table: StatsTable, calibration: Calibration | None, overlaps: Overlaps | None = None
) -> tuple[Links, list[ParaphraseGroup]]:
    """Link the table's accounts, with behaviour and paraphrase overlap when `calibration` is an honest
    reference's; returns the links and the paraphrase groups (`paraphrase.py`) among them. `overlaps`:
    kept from this growing table's earlier scorings (`overlaps_for`), to the same result."""
    if calibration is None:
        return link(table), []
    null = calibration.paraphrase
    found = paraphrase_groups(table, null, overlaps) if null is not None else []
    joined = [(a, b, PARAPHRASE) for group in found for a, b in group.core_pairs]
    return link(table, calibration.behaviour, joined), found


def overlaps_for(calibration: Calibration | None) -> Overlaps | None:
    """What to keep between scorings of one growing table against `calibration` (`link_all`)."""
    if calibration is None or calibration.paraphrase is None:
        return None
    return Overlaps(calibration.paraphrase.reference)


def assess(
    table: StatsTable,
    calibration: Calibration,
    config: DetectConfig,
    *,
    self_reference: bool = False,
    links: tuple[Links, list[ParaphraseGroup]] | None = None,
) -> dict[str, Any]:
    """Score every account and linked group in `table`; flags at the configured FPR and FDR. With an
    honest reference, a group's p-value combines its pooled traffic's and its members' exact rank
    test (`grouptest`), and, for a group holding accounts that ask paraphrases of the same questions,
    that group's test (`paraphrase`), Bonferroni-combined. The pooled traffic's and the rank test's
    p-values are calibrated on the reference's honest groups (`GroupNull`)."""
    links_, found = links if links is not None else link_all(table, calibration)
    units, _ = units_of(table, links_, calibration.prior)
    n = len(table)
    exclude = [[j for j in e if j < n] for e in units.exclude] if self_reference else None
    accounts_scored = calibration.score(units.features[:n], exclude[:n] if exclude else None)
    groups_scored = calibration.score(units.features[n:], exclude[n:] if exclude else None, groups=True)
    scored = Scored.concat([accounts_scored, groups_scored])
    # Rank tests need honest reference units: the log's own accounts are not exchangeable with a group
    # of alike accounts among them (an honest bot fleet ranks together against everyone else).
    group_of = {m: i for i in range(n, len(units.ids)) for m in units.members[i]}
    paraphrased = {group_of[g.core[0]]: g for g in found if g.core and not self_reference}
    # Groups linked on behaviour or paraphrase are calibrated on their own kind (`GroupNull.power`).
    alike = [links_.alike[i - n] is not None or i in paraphrased for i in range(n, len(units.ids))]
    member_rows = [[table.index[m] for m in units.members[i]] for i in range(n, len(units.ids))]
    distances = accounts_scored.family_distance
    tests = [] if self_reference else rank_groups(member_rows, distances, calibration, alike)
    ranks = dict(zip(range(n, len(units.ids)), tests))
    null = calibration.group_null or GroupNull()
    group_tests = {
        i: GroupTests(
            calibrated(float(scored.p_value[i]), null.power(alike[i - n])[1]),
            ranks[i][0].p_value if i in ranks else None,
            paraphrased[i].p_value if i in paraphrased else None,
        )
        for i in range(n, len(units.ids))
    }
    p = scored.p_value.copy()
    for i, combined in group_tests.items():
        p[i] = combined.p_value
    q = np.array(benjamini_hochberg(p.tolist()))
    result = {
        "units": units,
        "scored": scored,
        "p": p,
        "q": q,
        "links": links_,
        "exclude": exclude,
        "ranks": ranks,
        "paraphrased": paraphrased,
        "group_tests": group_tests,
    }
    flagged, by = flags(table, calibration, result, config.target_fpr, config.fdr)
    return {**result, "flagged": flagged, "by": by}


def flags(
    table: StatsTable, calibration: Calibration, result: dict[str, Any], target_fpr: float, fdr: float
) -> tuple[np.ndarray, dict[str, str]]:
    """Which units of an `assess` result are flagged at `target_fpr` and `fdr`, and by what each
    account is (its own traffic, or the id of a flagged group it belongs to)."""
    units: Units = result["units"]
    scored: Scored = result["scored"]
    exclude = result["exclude"]
    p = result["p"]
    flagged = (p <= target_fpr) & (result["q"] <= fdr)
    if exclude is not None:
        # Self-calibrated, a pooled group's p-value is a rank among single accounts, which a group's
        # pooled traffic (broader than any of its members') outranks even when honest: reported only.
        flagged &= ~np.array(units.is_group)
    by: dict[str, str] = {}
    for i, unit in enumerate(units.ids):
        if flagged[i] and not units.is_group[i]:
            by[unit] = "own traffic"
    n_accounts = len(table)
    paraphrased = result["paraphrased"]
    group_tests: dict[int, GroupTests] = result["group_tests"]
    for i, group in paraphrased.items():
        if flagged[i] and group_tests[i].paraphrase_passes(target_fpr):  # its accounts carry the evidence
            for m in group.core:
                by.setdefault(m, units.ids[i])
    for i, members in enumerate(units.members):
        if flagged[i] and i in result["ranks"]:
            test, beaten = result["ranks"][i]  # the accounts that carry its rank test go with the group
            if group_tests[i].rank_passes(target_fpr):
                for m, b in zip(members, beaten):
                    if b <= test.beaten_by:
                        by.setdefault(m, units.ids[i])
        if i in paraphrased and not group_tests[i].others_pass(target_fpr):
            continue  # flagged on paraphrase alone: its core goes with it (above), the rest on their own
        if flagged[i] and units.is_group[i]:
            rest = without_each(table, units.pooled[i - n_accounts], members, calibration.prior)
            distance = calibration.score(
                rest, [exclude[i] for _ in members] if exclude else None, groups=True
            ).distance
            for m, left in zip(members, distance):
                if m not in by and (
                    p[table.index[m]] <= MEMBER_P or left <= scored.distance[i] + MEMBER_SLACK
                ):
                    by[m] = units.ids[i]
    return flagged, by
