"""Honest teams (accounts linked on shared metadata: an agency's writers with one org and one payment
id) are calibrated the way a log meets them: whole, and against a reference that does not hold them.

The reference's distances leave each account's team out (`linking.leave_out`), and the group test's
calibration splits the reference into halves that keep each team whole (`grouptest.halves`). The null
check runs `distillab detect` on honest-only logs of the independent generator (tests/traffic: content
writers, benchmark runners, labelling companies ...), seeds used nowhere else, against an honest
reference of another seed: no group is flagged, nor more accounts than the target allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from detect_world import detect_at

from distillab.detect.features import FEATURES
from distillab.detect.grouptest import halves
from distillab.detect.linking import Links, leave_out
from distillab.detect.run import prepare_reference
from distillab.detect.scoring import Calibration
from traffic import TrafficConfig, generate, write_labels, write_log


def test_halves_keep_teams_whole() -> None:
    teams = [[0, 1, 2, 3], [10, 11], [20, 21, 22]]
    for seed in range(20):
        first, second = halves(40, teams, seed)
        assert sorted([*first, *second]) == list(range(40))
        for team in teams:
            assert set(team) <= set(first) or set(team) <= set(second)
        assert 16 <= len(first) <= 20  # about half, never over
    assert not any(set(halves(40, [], 0)[0]) == set(halves(40, [], s)[0]) for s in range(1, 5))


class _Table:
    def __init__(self, names: list[str]):
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}

    def __len__(self) -> int:
        return len(self.names)


def test_leave_out_names_each_account_with_its_team() -> None:
    table: Any = _Table(["a", "b", "c", "d", "e"])
    links = Links(clusters=[["d", "b"]], reasons={}, alike=[])
    assert leave_out(table, links) == [[0], [1, 3], [2], [1, 3], [4]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("team-reference") / "honest.parquet"
    write_log(generate(TrafficConfig(accounts=600, seed=410, days=3)).honest(), out)
    return out, prepare_reference(out)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [411, 412])
def test_honest_teams_of_independent_traffic_are_not_flagged(
    seed: int, reference: tuple[Path, Any], tmp_path: Path
) -> None:
    traffic = generate(TrafficConfig(accounts=400, seed=seed, days=3)).honest()
    log, labels = tmp_path / "honest.parquet", tmp_path / "labels.jsonl"
    write_log(traffic, log)
    write_labels(traffic, labels)
    kinds = {a.name: a.kind for a in traffic.accounts}
    target = 0.01
    summary, groups = detect_at(log, reference, tmp_path / "out", target)
    teams = [g for g in groups if g["rank_test"] and len({kinds[m] for m in g["members"]}) == 1]
    assert any(kinds[g["members"][0]] == "content-writer" for g in teams)  # the case this is about
    assert summary.flagged_groups == 0
    rank_p = np.array([g["rank_test"]["p_value"] for g in groups if g["rank_test"]])
    assert (rank_p <= target).sum() <= target * len(rank_p) + 1
    assert summary.flagged_accounts <= target * summary.accounts


def test_a_pooled_group_is_ranked_among_honest_teams_and_beyond_them_decays_at_the_accounts_rate() -> None:
    rng = np.random.default_rng(0)
    accounts = rng.normal(0.0, 1.0, (400, len(FEATURES)))
    calibration = Calibration(accounts, {})
    # 60 honest teams of 3 (rows 0..179), pooled: each dominated by some honest account (distance 0),
    # so the teams give no tail of their own.
    teams = [[3 * t, 3 * t + 1, 3 * t + 2] for t in range(60)]
    calibration.set_groups(np.array([accounts[rows].mean(axis=0) for rows in teams]), teams)
    assert calibration.group_tails is not None
    assert all(not t.exceed for t in calibration.group_tails)
    team_like = accounts[teams[0]].mean(axis=0)[None, :] + 0.05
    far = np.full((1, len(FEATURES)), 4.0)
    beyond = np.full((1, len(FEATURES)), 8.0)
    as_group = calibration.score(np.concatenate([team_like, far, beyond]), groups=True)
    assert as_group.family_p[0].min() >= 1 / 61  # among the honest teams, a team-like group is ordinary
    # Beyond every honest team: below the teams' smallest rank, from the tail, and falling with distance.
    assert (as_group.family_p[1] < 1 / 61).all() and as_group.family_from_tail[1].all()
    assert (as_group.family_p[2] < as_group.family_p[1]).all()
