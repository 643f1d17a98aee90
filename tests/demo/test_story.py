"""The contest report: summary.json's numbers show up, missing values never break it, text is escaped."""

from __future__ import annotations

import copy
import dataclasses
import html
import re
from pathlib import Path

import pytest

from distillab.demo.charts import ticks
from distillab.demo.config import ContestConfig
from distillab.demo.results import (
    CampaignTraffic,
    ContestResult,
    ControlResult,
    CurvePoint,
    Flag,
    HonestTraffic,
    Proof,
    RoundResult,
    TeacherScore,
    TestBrief,
)
from distillab.demo.story import leak_per_1000, render_report
from distillab.detect.result import CampaignMetrics, DetectMetrics, DetectSummary

TEACHER = "/cache/toy/teacher-arith-tiny-97f9"
BYSTANDER = "/runs/demo/world/bystander"
REASON = (
    "live detector: member of a linked group of 5 accounts (same payment id pm_1a90, shared network "
    "127.0.0.0/24) (p=0.00086, q=0.0078)"
)


def _test(name: str, p: float, question: str, null: str) -> TestBrief:
    outcome = "Significant" if p < 0.05 else "Not significant"
    return TestBrief(
        name=name,
        question=question,
        p_value=p,
        significant=p < 0.05,
        verdict=f"{outcome} at level 0.05 (p = {p:.3g}): {null}",
        effect={},
        sample_sizes={"prompts": 8},
    )


def _proof(suspect: str, radioactive: float, teacher: float, bystander: float, closer: float) -> Proof:
    """A suspect's four tests, named and worded as `distillab.demo.proof` writes them, with these p-values."""
    same = "Does the suspect ({}) produce the same distribution of completions as {}?"
    return Proof(
        radioactivity=[
            _test(
                "radioactivity/open",
                radioactive,
                f"Was {suspect} trained on text watermarked with the default key (key 7058)?",
                "the suspect never learned from it.",
            )
        ],
        attribution=[
            _test(
                f"attribution/equality: {TEACHER}",
                teacher,
                same.format(suspect, TEACHER),
                f"same distribution as {TEACHER}'s.",
            ),
            _test(
                f"attribution/equality: {BYSTANDER}",
                bystander,
                same.format(suspect, BYSTANDER),
                "same distribution.",
            ),
            _test(
                f"attribution/closer: {TEACHER} vs {BYSTANDER}",
                closer,
                f"Are the suspect's ({suspect}) completions closer to {TEACHER}'s than to {BYSTANDER}'s?",
                "no closer.",
            ),
        ],
    )


def _flag(
    account: str, at_s: float, after_queries: int | None, *, campaign: bool = True, reason: str = REASON
) -> Flag:
    return Flag(account, campaign, "degrade", reason, at_s, after_queries)


def _metrics() -> DetectMetrics:
    return DetectMetrics(
        honest_accounts=2,
        campaign_accounts=6,
        flagged_accounts=5,
        precision=1.0,
        recall=0.8333,
        honest_false_positive_rate=0.0,
        honest_ever_flagged_rate=None,
        campaigns={"campaign-demo": CampaignMetrics(6, 5, True, 7)},
        campaigns_detected=1,
        median_queries_until_flagged=7,
        unlabelled_accounts=0,
    )


def _detect(metrics: DetectMetrics | None, notes: tuple[str, ...] = ()) -> DetectSummary:
    return DetectSummary(
        log="gateway.db",
        reference="honest.parquet",
        reference_units=198,
        target_fpr=0.01,
        fdr=0.1,
        accounts=8,
        requests=90,
        groups=1,
        flagged_accounts=5,
        flagged_groups=1,
        checkpoints=0,
        notes=list(notes),
        indicator_matches=None,
        metrics=metrics,
        seconds=1.0,
        records_per_s=90,
    )


def _round(
    defense: str,
    *,
    degraded: int,
    tokens: int,
    accuracy: float | None,
    flags: list[Flag],
    proof: Proof,
    queries: int = 60,
) -> RoundResult:
    return RoundResult(
        defense=defense,
        seconds=6.7,
        campaign=CampaignTraffic(
            accounts=6,
            queries=queries,
            answered=60,
            degraded=degraded,
            blocked_accounts=0,
            statuses={"200": 60},
            completion_tokens=tokens,
        ),
        honest=HonestTraffic(accounts=2, requests=30, statuses={"400": 2, "200": 28}),
        flags=flags,
        settings={"defense": defense},
        detect=_detect(_metrics(), ("the reference has only 198 units",)),
        curve=[CurvePoint(0.5, 30, accuracy / 2 if accuracy else None), CurvePoint(1.0, 60, accuracy)],
        student_score=accuracy,
        proof=proof,
    )


def _config() -> ContestConfig:
    return ContestConfig(
        out=Path("/runs/demo"),
        defenses=("off", "detect+degrade"),
        campaign_accounts=6,
        campaign_queries=60,
        rpm=600,
        steps=20,
        seed=0,
    )


def _empty(teacher_score: float | None = None) -> ContestResult:
    """A contest that recorded nothing: no round, no score, no test."""
    return ContestResult(
        task="text",
        metric="score",
        reference_losses=None,
        teacher=TeacherScore(TEACHER, teacher_score),
        untrained_student_score=None,
        control=ControlResult(None, Proof([], [])),
        rounds={},
        config=_config(),
        seconds=float("nan"),
    )


def sample_summary() -> ContestResult:
    """The shape of a real tiny contest's summary (two rounds), with distinct numbers to look for."""
    degrade_flags = [_flag(f"acct-{i}", 1.92 + i / 100, 3) for i in range(5)]
    return ContestResult(
        task="arith",
        metric="score",
        reference_losses=None,
        teacher=TeacherScore(TEACHER, 0.08333333333333333),
        untrained_student_score=0.0,
        control=ControlResult(
            0.0125, _proof("/runs/demo/world/control", 0.858608, 0.000999, 0.2088, 0.99999)
        ),
        rounds={
            "off": _round(
                "off",
                degraded=0,
                tokens=1165,
                accuracy=0.0625,
                flags=[],
                proof=_proof("/runs/demo/round-off/student", 0.0443234, 0.000999, 0.2737, 3.2e-07),
            ),
            "detect+degrade": _round(
                "detect+degrade",
                degraded=35,
                tokens=919,
                accuracy=0.025,
                flags=degrade_flags,
                proof=_proof("/runs/demo/round-detect+degrade/student", 0.2078696, 0.000999, 0.7453, 0.41),
            ),
        },
        config=_config(),
        seconds=82.6,
    )


def _text(page: str) -> str:
    """The page's text (charts' labels included), tags dropped, entities decoded, whitespace collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_story_carries_the_summary_numbers() -> None:
    page = render_report(sample_summary())
    text = _text(page)
    for expected in (
        "8.3%",
        "6.2%",
        "2.5%",
        "1.2%",  # teacher, attacker's students, control
        "60 teacher queries over 6 accounts",
        "82.6 s",
        "+104.2 points",
        "+41.7 points",  # 6.25 and 2.5 points over 0.06 thousand queries
        "30 answers → 3.1%",
        "60 answers → 6.2%",  # the extraction curve of round "off"
        "5 of 6 campaign accounts",
        "0 of 2 honest accounts",
        "median of 3 queries",
        "83.3%",
        "100.0%",
        "1 of 1",  # offline recall, precision, campaigns detected
        "1,165",
        "919",
        "35",
        "28 of 30",  # tokens, degraded answers, honest requests served
        "0.044 significant",
        "3.2e-07 significant",
        "0.86",
        "0.41",
        "1.0e-03 significant",
        "docs/contest.md explains each step",
        "distillab demo --out /runs/demo --defense off,detect+degrade --campaign-queries 60",
    ):
        assert expected in text, expected
    assert "the live detector was off in this round" in text.lower()


def test_the_page_is_self_contained_with_an_svg_curve() -> None:
    page = render_report(sample_summary())
    assert page.startswith("<!doctype html>")
    assert "<script" not in page and "src=" not in page and "href=" not in page
    curve = page[page.index("1. The extraction curve") : page.index("2. How the campaign was caught")]
    assert curve.count("<svg") == 1 and curve.count("<polyline") >= 2 + 3  # two rounds, three references
    assert "teacher 8.3%" in curve and "control 1.2%" in curve and "untrained 0.0%" in curve
    caught = page[page.index("2. How the campaign was caught") : page.index("3. What the defense did")]
    assert caught.count("<svg") == 1  # the round with a live detector; "off" has none


def test_the_proof_table_names_tests_plainly_and_quotes_the_verdicts() -> None:
    text = _text(render_report(sample_summary()))
    assert "attribution/closer: the teacher vs bystander" in text
    assert "Was the suspect trained on text watermarked" in text and "/runs/demo/round-off" not in text
    assert text.count("Does the suspect produce the same distribution of completions as the teacher?") == 1
    assert "p = 0.0443" in text and "p = 0.859" in text  # first round's attacker and the control: verdicts
    assert "p = 0.208" not in text  # the other rounds appear in the table only
    assert "attacker's student, off: 2 of 2" in text and "control student: 0 of 2" in text
    assert "evidence, not certainty" in text


def test_leak_per_thousand_queries() -> None:
    def round_(score: float | None, queries: int) -> RoundResult:
        return _round(
            "off", degraded=0, tokens=1, accuracy=score, flags=[], proof=Proof([], []), queries=queries
        )

    assert leak_per_1000(round_(0.5, 2000), 0.1) == pytest.approx(20.0)
    assert leak_per_1000(round_(0.5, 2000), None) is None
    assert leak_per_1000(round_(0.5, 0), 0.1) is None
    assert leak_per_1000(round_(None, 2000), 0.1) is None


def test_missing_values_read_n_a_instead_of_failing() -> None:
    summary = sample_summary()
    summary.teacher = TeacherScore(TEACHER, None)
    summary.control = ControlResult(None, Proof([], []))
    summary.seconds = float("nan")
    summary.untrained_student_score = None
    holey = summary.rounds["detect+degrade"]
    holey.curve, holey.student_score, holey.detect = [], None, _detect(None)
    holey.flags += [_flag("acct-x", 0.0, None)]
    page = render_report(summary)
    text = _text(page)
    assert "The whole run took n/a" in text and "untrained n/a" in text
    assert "attacker's student score 6.2% n/a" in text  # round "off" complete, the other not
    assert "campaign accounts flagged (recall) 83.3% n/a" in text
    assert '<td class="num">—</td>' in page  # the control was not tested


def _sparse(kind: str) -> ContestResult:
    summary = _empty(float("nan") if kind == "no-rounds" else None)
    if kind in ("empty-round", "empty-flags"):
        round_ = _round("detect", degraded=0, tokens=0, accuracy=None, flags=[], proof=Proof([], []))
        round_.campaign = CampaignTraffic(0, 0, 0, 0, 0, {}, 0)
        round_.honest = HonestTraffic(0, 0, {})
        round_.detect = _detect(None)
        round_.curve = [] if kind == "empty-round" else [CurvePoint(1.0, 0, None)]
        summary.rounds = {"detect": round_}
    if kind == "empty-flags":
        untested = _test("radioactivity/open", float("nan"), "", "")
        summary.control = ControlResult(None, Proof([untested], []))
    return summary


@pytest.mark.parametrize("kind", ["empty", "no-rounds", "empty-round", "empty-flags"])
def test_sparse_summaries_render(kind: str) -> None:
    page = render_report(_sparse(kind))
    assert page.rstrip().endswith("</html>") and "docs/contest.md" in page


def test_a_single_detect_round_without_flags_says_so() -> None:
    summary = sample_summary()
    round_ = copy.deepcopy(summary.rounds["detect+degrade"])
    summary.rounds = {"detect": dataclasses.replace(round_, defense="detect", flags=[])}
    text = _text(render_report(summary))
    assert "The live detector flagged no account in this round." in text
    assert "attacker's student, defense “detect”" in text and "“off”" not in text


def test_flagged_honest_accounts_and_reasons_are_counted() -> None:
    summary = sample_summary()
    flags = summary.rounds["detect+degrade"].flags
    flags += [_flag("honest-1", 4.0, None, campaign=False, reason=f"reason {i}") for i in range(3)]
    flags += [_flag("acct-9", 3.0, 11, reason="reason 0")]
    text = _text(render_report(summary))
    assert "6 of 6 campaign accounts" in text and "1 of 2 honest accounts" in text
    assert "5× " + REASON in text and "2× reason 0" in text and "and 1 other reason." in text
    assert "median of 3 queries" in text  # after_queries 3, 3, 3, 3, 3, 11


def test_text_from_the_summary_is_escaped() -> None:
    summary = sample_summary()
    summary.rounds["detect+degrade"].flags[0].reason = "<script>alert('x')</script> & more"
    summary.control.proof.attribution[0].verdict = "<img src=x onerror=alert(1)>"
    page = render_report(summary)
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_ticks_are_round_and_cover_the_top() -> None:
    assert ticks(0.0833) == [0.0, 0.02, 0.04, 0.06, 0.08, 0.1]
    assert ticks(6, integer=True) == [0, 2, 4, 6]
    assert ticks(0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
