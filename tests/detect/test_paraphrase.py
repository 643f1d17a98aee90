"""Cross-account paraphrase overlap: accounts that paraphrase one private set of questions are linked and
flagged as a group, while honest accounts sending the same templated prompts are not linked by it."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from detect_world import START, VERBS, world

from distillab.detect.assess import assess, link_all, overlaps_for
from distillab.detect.behaviour import SAMPLE
from distillab.detect.calibrate import calibrate, collect, open_log
from distillab.detect.config import DetectConfig
from distillab.detect.features import StatsTable
from distillab.detect.kept import JACCARD, MIN_SHARED, Kept, Overlaps, counts, highest, shares
from distillab.detect.live import Detector
from distillab.detect.live_config import LiveDetectConfig
from distillab.detect.logs import from_records
from distillab.detect.paraphrase import PARAPHRASE, union_p
from distillab.detect.run import prompt_embedder, run_detect
from distillab.detect.scoring import Calibration
from distillab.detect.text import Embedder

THINGS = (
    "osmosis", "tectonics", "photosynthesis", "inflation", "mitochondria", "sonnets", "glaciers",
    "vaccines", "cryptography", "tariffs", "volcanoes", "enzymes", "baroque", "monsoons", "isotopes",
    "feudalism", "semiconductors", "estuaries", "impressionism", "antibodies",
)  # fmt: skip
ENDINGS = ("please?", "thanks!", "in short?", "for a beginner?")
PARAPHRASERS = 5
TEMPLATED = 3


def paraphraser(rng: random.Random, name: str, questions: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """An account at an honest user's pace asking `questions` in the words honest users use."""
    records = []
    ts = START + rng.uniform(0, 86400)
    for _ in range(rng.randint(18, 24)):
        ts += rng.uniform(3000, 20000)
        x, y = rng.choice(questions)
        text = f"{rng.choice(VERBS).capitalize()} {x} and {y}, {rng.choice(ENDINGS)}"
        records.append(_record(name, ts, text, rng))
    return records


def templated(rng: random.Random, name: str) -> list[dict[str, Any]]:
    """An honest translation integration: the same templated prompts as its peers, word for word."""
    records = []
    ts = START + rng.uniform(0, 86400)
    for i in range(20):
        ts += rng.uniform(600, 3600)
        text = f"Translate into French: the {THINGS[i % 10]} lecture starts at nine."
        records.append(_record(name, ts, text, rng))
    return records


def _record(name: str, ts: float, text: str, rng: random.Random) -> dict[str, Any]:
    return {
        "ts": ts,
        "account": name,
        "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.9",
        "user_agent": "app/3",
        "endpoint": "/v1/chat/completions",
        "model": "m",
        "messages": [{"role": "user", "content": text}],
        "params": {"temperature": 0.7, "max_tokens": 512},
        "status": 200,
        "completion_tokens": rng.randint(100, 400),
    }


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    rng = random.Random(7)
    work = tmp_path_factory.mktemp("paraphrase")
    reference, _ = world(seed=60, honest=300, heavy=False, spread=0)
    for j in range(20):  # honest users like them, each asking questions of its own; a translation team
        words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=8)) for _ in range(12)]
        reference += paraphraser(rng, f"asker-{j}", [(x, y) for x in words for y in words if x < y])
    for j in range(TEMPLATED):
        reference += templated(rng, f"translator-{j}")
    log, labels = world(seed=61, honest=150, heavy=False, spread=0)
    pairs = [(x, y) for x in THINGS for y in THINGS if x < y]
    questions = rng.sample(pairs, 30)
    for j in range(PARAPHRASERS):
        log += paraphraser(rng, f"slow-{j}", questions)
        labels[f"slow-{j}"] = "c-slow"
    for j in range(TEMPLATED):
        log += templated(rng, f"translate-{j}")
        labels[f"translate-{j}"] = "benign"
    log.sort(key=lambda r: r["ts"])
    write(work / "labels.jsonl", [{"account": a, "label": lab} for a, lab in labels.items()])
    return write(work / "ref.jsonl", reference), write(work / "log.jsonl", log), work / "labels.jsonl"


@pytest.fixture(scope="module")
def prepared(scenario: tuple[Path, Path, Path]) -> tuple[Embedder, Calibration]:
    """The scenario's reference, calibrated (with its paraphrase null)."""
    embedder, batches = open_log(scenario[0])
    reference = calibrate(collect(batches, embedder))
    assert reference.paraphrase is not None
    return embedder, reference


def test_paraphrasers_are_linked_and_templated_peers_are_not(
    scenario: tuple[Path, Path, Path], prepared: tuple[Embedder, Calibration]
) -> None:
    log_path = scenario[1]
    embedder, reference = prepared
    _, batches = open_log(log_path, embedder)
    table = collect(batches, embedder)
    links, found = link_all(table, reference)
    slow = {f"slow-{j}" for j in range(PARAPHRASERS)}
    assert len(found) == 1 and set(found[0].members) == slow
    assert found[0].p_value < 1e-6
    assert "5 accounts ask paraphrases of the same questions" in found[0].words()
    paraphrase_pairs = {pair for pair, why in links.reasons.items() if PARAPHRASE in why}
    assert paraphrase_pairs and all(pair <= slow for pair in paraphrase_pairs)
    (cluster,) = [c for c in links.clusters if slow <= set(c)]
    assert not any(m.startswith("translate-") for m in cluster)


def test_paraphrasers_are_flagged_and_honest_accounts_are_not(
    scenario: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    reference_path, log_path, labels = scenario
    summary = run_detect(
        DetectConfig(
            log=str(log_path), out=tmp_path, reference=str(reference_path), labels=labels, progress=False
        )
    )
    accounts = [json.loads(line) for line in (tmp_path / "accounts.jsonl").read_text().splitlines()]
    flagged = {a["account"] for a in accounts if a["flagged"]}
    assert flagged == {f"slow-{j}" for j in range(PARAPHRASERS)}
    assert summary.metrics is not None and summary.metrics.honest_false_positive_rate == 0
    groups = json.loads((tmp_path / "campaigns.json").read_text())
    flagged_groups = [g for g in groups if g["flagged"]]
    assert len(flagged_groups) == 1
    assert "ask paraphrases of the same questions" in flagged_groups[0]["reasons"][0]


def test_a_log_of_accounts_with_too_few_prompts_links_none(
    scenario: tuple[Path, Path, Path], prepared: tuple[Embedder, Calibration]
) -> None:
    """A live detector's first rounds: no account has kept enough prompts to compare (it raised before)."""
    log_path = scenario[1]
    embedder, reference = prepared
    first: dict[str, dict[str, Any]] = {}
    for line in log_path.read_text().splitlines():
        record = json.loads(line)
        first.setdefault(record["account"], record)
    _, batches = open_log(write(log_path.parent / "first.jsonl", list(first.values())), embedder)
    links, found = link_all(collect(batches, embedder), reference)
    assert found == [] and not any(PARAPHRASE in why for why in links.reasons.values())


def test_union_bound() -> None:
    """The group p-value bounds the chance that some k of n accounts hold e links, checked by simulating
    independent links."""
    rng = np.random.default_rng(0)
    n, q, trials = 30, 0.01, 4000
    hits = 0
    for _ in range(trials):
        upper = np.triu(rng.random((n, n)) < q, 1)
        degrees = (upper | upper.T).sum(axis=1)
        hits += bool((degrees >= 2).any())  # some 3 accounts hold 2 links (a path)
    assert hits / trials <= union_p(3, 2, n, q)
    assert union_p(2, 1, 10, 0.5) == 1.0
    assert union_p(6, 15, 600, 1e-4) < 1e-40


# ---- kept between scorings ----------------------------------------------------------------------------
def _scored(table: StatsTable, reference: Calibration, overlaps: Overlaps | None) -> dict[str, Any]:
    links = link_all(table, reference, overlaps)
    return {"found": links[1], **assess(table, reference, DetectConfig(log="log"), links=links)}


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["found"] == b["found"]  # the same groups, members, links, p-values and cores
    assert a["links"].clusters == b["links"].clusters and a["links"].reasons == b["links"].reasons
    for key in ("p", "q", "flagged"):
        assert np.array_equal(a[key], b[key])
    assert a["by"] == b["by"]


def test_overlaps_kept_between_checkpoints_score_as_afresh(
    scenario: tuple[Path, Path, Path], prepared: tuple[Embedder, Calibration]
) -> None:
    """A log scored at 8 checkpoints as it grows, keeping its overlaps, finds at each exactly the groups,
    p-values and flags that scoring afresh finds (the paraphrasers' group among them, by the end)."""
    embedder, reference = prepared
    assert reference.paraphrase is not None
    records = [json.loads(line) for line in scenario[1].read_text().splitlines()]
    table = StatsTable(embedder, prompt_embedder(embedder, reference, "lexical"))
    overlaps = overlaps_for(reference)
    assert overlaps is not None
    groups = []
    for chunk in np.array_split(np.arange(len(records)), 8):
        table.update(from_records([records[i] for i in chunk]))
        kept = _scored(table, reference, overlaps)
        _same(kept, _scored(table, reference, None))
        groups.append(len(kept["found"]))
        log = Kept.of(table)
        within, honest = overlaps.of(table, log)  # nothing changed since: all from what was kept
        assert np.array_equal(within, shares(log))
        needed = within.any(axis=1)
        assert np.array_equal(honest[needed], highest(log, reference.paraphrase.reference)[needed])
    assert groups[0] == 0 and groups[-1] >= 1
    assert kept["by"].keys() >= {f"slow-{j}" for j in range(PARAPHRASERS)}


def test_an_account_whose_kept_prompts_changed_is_compared_again(
    scenario: tuple[Path, Path, Path], prepared: tuple[Embedder, Calibration]
) -> None:
    embedder, reference = prepared
    assert reference.paraphrase is not None
    _, batches = open_log(scenario[1], embedder)
    table = collect(batches, embedder)
    overlaps = Overlaps(reference.paraphrase.reference)
    before = _scored(table, reference, overlaps)
    assert {f"slow-{j}" for j in range(PARAPHRASERS)} <= set(before["found"][0].members)
    # slow-0 now keeps an honest account's prompts (a checkpoint restored over the table does this)
    slow, honest = table.index["slow-0"], table.index["translate-0"]
    behaviour = table.behaviour
    assert behaviour is not None
    behaviour.sample[slow], behaviour.sample_hash[slow] = (
        behaviour.sample[honest],
        behaviour.sample_hash[honest],
    )
    after = _scored(table, reference, overlaps)
    _same(after, _scored(table, reference, None))
    assert "slow-0" not in after["found"][0].members
    log = Kept.of(table)
    within, _ = overlaps.of(table, log)
    assert np.array_equal(within, shares(log))


def test_the_live_detector_keeping_its_overlaps_decides_as_afresh(
    scenario: tuple[Path, Path, Path], prepared: tuple[Embedder, Calibration]
) -> None:
    records = [json.loads(line) for line in scenario[1].read_text().splitlines()]
    config = LiveDetectConfig(action="flag", target_fpr=0.01, embedder="lexical")
    kept, afresh = Detector(config, prepared), Detector(config, prepared)
    decided = set()
    for chunk in np.array_split(np.arange(len(records)), 6):
        for detector in (kept, afresh):
            detector.fold([records[i] for i in chunk])
        afresh.overlaps = None  # scores from scratch every time
        decisions = kept.decide()
        assert decisions == afresh.decide()
        decided |= {d.account for d in decisions}
    assert decided >= {f"slow-{j}" for j in range(PARAPHRASERS)}


def test_paraphrase_counts_follow_their_definition(
    scenario: tuple[Path, Path, Path], prepared: tuple[Embedder, Calibration]
) -> None:
    """`kept.counts` (one sparse product for both directions) against its definition, prompt by prompt:
    at least MIN_SHARED rare words in common, IDF-weighted Jaccard at least JACCARD, different text."""
    embedder, _ = prepared
    _, batches = open_log(scenario[1], embedder)
    table = collect(batches, embedder)
    rows = Kept.of(table).rows
    slow = [table.index[f"slow-{j}"] for j in range(PARAPHRASERS)]
    a = Kept.of(table, np.array(sorted({*slow[:3], *rows[:15].tolist()})))
    b = Kept.of(table, np.array(sorted({*slow[3:], *rows[15:30].tolist()})))
    idf = np.asarray(embedder.idf, np.float64)

    def definition(x: Kept, y: Kept) -> np.ndarray:
        out = np.zeros((len(x), len(y)), np.int64)
        theirs = [set(y.present[t].indices.tolist()) for t in range(len(y) * SAMPLE)]
        for s in range(len(x) * SAMPLE):
            words = set(x.present[s].indices.tolist())
            found = set()
            for t, other in enumerate(theirs):
                common = words & other
                if len(common) < MIN_SHARED or x.hashes[s] == y.hashes[t]:
                    continue
                if x is y and s // SAMPLE == t // SAMPLE:
                    continue
                weight = sum(idf[w] for w in common)
                if weight >= JACCARD * (x.total[s] + y.total[t] - weight):
                    found.add(t // SAMPLE)
            for account in found:
                out[s // SAMPLE, account] += 1
        return out

    there, back = counts(a, b)
    assert np.array_equal(there, definition(a, b)) and np.array_equal(back, definition(b, a))
    assert there.sum() > 0  # the paraphrasers split between the two
    assert np.array_equal(counts(a, a)[0], definition(a, a))
