"""OUT/report.html: the contest told as one story, from summary.json's numbers and nothing else.

    write_text(out / "report.html", render_report(summary))

The page reads in the order the contest ran: what the attacker got (headline, extraction curve), how the
campaign was caught (live and offline detector), what each defense cost the attacker, and whether the tests
can prove the distillation afterwards. One file with inline CSS and SVG: no scripts, no network references.
Any value may be missing (a round without a live detector, a step that wrote no metrics): the page then says
"n/a" or why, and never raises. The charts are in `distillab.demo.charts`.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from html import escape
from typing import Any

from distillab.demo.charts import Reference, line_chart, step_chart
from distillab.demo.fmt import NA, duration, num, num2, number, pct
from distillab.demo.results import ContestResult, Flag, RoundResult, config_settings
from distillab.demo.story_proof import proof_section
from distillab.detect.result import DetectMetrics

DEFENSE_WORDS = {
    "off": "the gateway only serves and logs",
    "detect": "the live detector flags accounts, which are still served in full",
    "detect+degrade": "flagged accounts get short answers without log-probabilities",
}


def leak_per_1000(round_: RoundResult, untrained: float | None) -> float | None:
    """Score points the full harvest added over the untrained student, per 1,000 teacher queries sent."""
    student, base = number(round_.student_score), number(untrained)
    queries = round_.campaign.queries
    if student is None or base is None or not queries:
        return None
    return 100 * (student - base) / (queries / 1000)


def _leak(value: float | None) -> str:
    return NA if value is None else f"{value:+,.1f} points"


def _metric(summary: ContestResult) -> str:
    return summary.metric or "score"


def _metric_note(summary: ContestResult) -> str:
    """What the score means, in words, for the metrics the contest reports."""
    metric = _metric(summary)
    if "skill" in metric:
        losses = summary.reference_losses or {}
        written = {
            "stdlib": "questions about held-out standard-library modules, with their docstrings as answers"
        }.get(summary.task, "real text (the task's reference continuations)")
        return (
            f": its loss on held-out {written} as a share of the "
            f"teacher's gain over the untrained student, so the teacher scores 100% (loss "
            f"{num2(losses.get('teacher'))} nats/token) and the untrained student 0% (loss "
            f"{num2(losses.get('untrained'))})"
        )
    if "accuracy" in metric:
        return ": the share of held-out problems it answers correctly"
    return ""


def _headline(summary: ContestResult) -> str:
    rounds, untrained = summary.rounds, summary.untrained_student_score
    cards = [("the provider's teacher", pct(summary.teacher.score))]
    cards += [(f"attacker's student, defense “{name}”", pct(r.student_score)) for name, r in rounds.items()]
    cards += [
        ("control student (never saw the teacher)", pct(summary.control.score)),
        ("untrained student", pct(untrained)),
    ]
    shown = "".join(
        f'<div class="card"><div class="value">{value}</div><div>{escape(label)}</div></div>'
        for label, value in cards
    )
    sizes = {(num(r.campaign.queries), num(r.campaign.accounts)) for r in rounds.values()}
    if not rounds:
        campaign = "No round ran, so there was no campaign."
    elif len(sizes) == 1:
        queries, accounts = sizes.pop()
        campaign = (
            f"In each round a distillation campaign sent <b>{queries} teacher queries over "
            f"{accounts} accounts</b>, and the attacker trained a student on the answers it kept."
        )
    else:
        campaign = "The distillation campaign sent " + "; ".join(
            f"{num(r.campaign.queries)} teacher queries over {num(r.campaign.accounts)} accounts in round "
            f"“{escape(name)}”"
            for name, r in rounds.items()
        )
        campaign += ", and the attacker trained a student on the answers it kept."
    return (
        f'<h1>The distillation contest</h1><div class="cards">{shown}</div>'
        f"<p>Each model's score is its {escape(_metric(summary))}{_metric_note(summary)}. {campaign} "
        f"The whole run took {duration(summary.seconds)}.</p>"
    )


def _curve_points(round_: RoundResult) -> list[tuple[float, float]]:
    return [(float(p.answers), y) for p in round_.curve if (y := number(p.score)) is not None]


def _curve(summary: ContestResult) -> str:
    rounds, untrained = summary.rounds, summary.untrained_student_score
    series = {f"defense {name}": points for name, r in rounds.items() if (points := _curve_points(r))}
    references = [
        Reference("teacher", number(summary.teacher.score)),
        Reference("control", number(summary.control.score)),
        Reference("untrained", number(untrained)),
    ]
    chart = (
        line_chart(
            series,
            references,
            title=f"Attacker's student {_metric(summary)} by teacher answers kept",
            xlabel="teacher answers the attacker kept",
            ylabel=_metric(summary),
        )
        if series
        else '<p class="note">No extraction curve was recorded.</p>'
    )
    table = "".join(
        f"<tr><td>{escape(name)}</td><td>"
        + " · ".join(f"{num(x)} answers → {pct(y)}" for x, y in sorted(points))
        + "</td></tr>"
        for name, points in series.items()
    )
    leaks = "".join(
        f"<li>defense “{escape(name)}”: <b>{_leak(leak_per_1000(r, untrained))}</b> per 1,000 "
        f"queries (student {pct(r.student_score)}, untrained {pct(untrained)}, "
        f"{num(r.campaign.queries)} queries)</li>"
        for name, r in rounds.items()
    )
    if table:
        table = f"<table><tr><th>round</th><th>teacher answers kept → student score</th></tr>{table}</table>"
    return (
        "<h2>1. The extraction curve: what the teacher's answers bought the attacker</h2>"
        "<p>Students trained on the first part of the harvest, then on all of it, show how capability "
        "grows with the answers kept. The dashed lines are the teacher, the control student (trained on "
        "the task without the teacher) and the untrained student the attacker started from.</p>"
        f'<div class="chart">{chart}</div>{table}'
        "<p><b>Capability leaked per 1,000 teacher queries</b> is the attacker's student's score "
        "minus the untrained student's, in percentage points, divided by the thousands of queries the "
        "campaign sent: what each 1,000 queries bought the attacker at this run's scale. The curve shows "
        f"whether the gain keeps growing or stalls as more answers are kept.</p><ul>{leaks}</ul>"
    )


def _first_flags(flags: list[Flag]) -> dict[str, tuple[bool, float]]:
    """Account -> (is it a campaign account, seconds into the round of its first flag)."""
    first: dict[str, tuple[bool, float]] = {}
    for flag in sorted(flags, key=lambda f: f.at_s):
        first.setdefault(flag.account, (flag.campaign, flag.at_s))
    return first


def _reasons(flags: list[Flag], top: int = 3) -> str:
    counts = Counter(f.reason for f in flags if f.reason)
    if not counts:
        return ""
    items = "".join(f"<li><b>{count}×</b> {escape(reason)}</li>" for reason, count in counts.most_common(top))
    rest = len(counts) - top
    more = f'<p class="note">and {rest} other reason{"s" if rest > 1 else ""}.</p>' if rest > 0 else ""
    return f"<p>The most common reasons the detector gave:</p><ul>{items}</ul>{more}"


def _live(name: str, round_: RoundResult) -> str:
    words = DEFENSE_WORDS.get(name, "a defense this report does not describe")
    heading = f"<h3>Round “{escape(name)}”: {escape(words)}</h3>"
    flags = round_.flags
    if name == "off":
        return heading + (
            "<p>The live detector was off in this round: nothing was flagged while the "
            "campaign ran. The offline detector below still read the round's log "
            "afterwards.</p>"
        )
    if not flags:
        return heading + "<p>The live detector flagged no account in this round.</p>"
    first = _first_flags(flags)
    caught = sorted(at for campaign, at in first.values() if campaign)
    honest = sorted(at for campaign, at in first.values() if not campaign)
    seconds, accounts = number(round_.seconds), round_.campaign.accounts
    chart = step_chart(
        {"campaign accounts": caught, "honest accounts": honest},
        x_max=seconds or max(caught + honest, default=1.0),
        y_max=int(accounts or 1),
        title=f"Accounts flagged live, round {name}",
        xlabel="seconds into the round",
        ylabel="accounts flagged",
    )
    n_caught = sum(campaign for campaign, _ in first.values())
    when = f", the first {caught[0]:.1f} s and the last {caught[-1]:.1f} s into the round" if caught else ""
    queries = [f.after_queries for f in flags if f.campaign and f.after_queries is not None]
    median = (
        f"<p>When flagged, a campaign account had sent a median of "
        f"<b>{num(statistics.median(queries))} queries</b> (the campaign sent "
        f"{num(round_.campaign.queries)} in all).</p>"
        if queries
        else ""
    )
    honest_accounts = num(round_.honest.accounts)
    return (
        f'{heading}<div class="chart">{chart}</div>'
        f"<p>The live detector flagged <b>{n_caught} of {num(accounts)} campaign accounts</b>{when} "
        f"({duration(seconds)} of traffic), and {len(first) - n_caught} of {honest_accounts} honest "
        f"accounts.</p>{median}{_reasons(flags)}"
    )


def _campaigns_detected(metrics: DetectMetrics) -> str:
    return f"{num(metrics.campaigns_detected)} of {num(len(metrics.campaigns))}"


OFFLINE_ROWS: dict[str, Callable[[DetectMetrics], str]] = {
    "campaign accounts flagged (recall)": lambda m: pct(m.recall),
    "flagged accounts that were campaign (precision)": lambda m: pct(m.precision),
    "honest accounts flagged (false-positive rate)": lambda m: pct(m.honest_false_positive_rate),
    "median queries until flagged": lambda m: num(m.median_queries_until_flagged),
    "campaigns detected": _campaigns_detected,
}


def _offline(rounds: dict[str, RoundResult]) -> str:
    metrics = [r.detect.metrics for r in rounds.values()]  # None: the detector had no labels
    head = "".join(f"<th>{escape(name)}</th>" for name in rounds)
    body = "".join(
        f"<tr><td>{label}</td>"
        + "".join(f'<td class="num">{cell(m) if m else NA}</td>' for m in metrics)
        + "</tr>"
        for label, cell in OFFLINE_ROWS.items()
    )
    notes = dict.fromkeys(n for r in rounds.values() for n in r.detect.notes)
    return (
        "<h3>Offline: the detector re-reads each round's log</h3>"
        "<p>After each round, <code>distillab detect</code> read the gateway's request log as an analyst "
        "would, calibrated on the provider's known-good honest traffic.</p>"
        f"<table><tr><th>defense</th>{head}</tr>{body}</table>"
        + "".join(f'<p class="note">{escape(note)}</p>' for note in notes)
    )


def _caught(summary: ContestResult) -> str:
    rounds, rpm = summary.rounds, num(summary.config.rpm)
    return (
        "<h2>2. How the campaign was caught</h2>"
        f"<p>Every campaign account stayed under the gateway's rate limit ({rpm} requests a minute per "
        "account), so no single account stood out by volume. The detector looks instead at what "
        "accounts ask and how they are linked, against the provider's honest traffic: live inside the "
        "gateway while the round runs, and offline afterwards.</p>"
        + (
            "<p>In this world the campaign also hides its links: its accounts share no payment card or "
            "organisation, each sends from its own home network and browser, and each paces itself like an "
            "honest power user, so only what its accounts ask, and how, can give them away.</p>"
            if summary.config.world != "tiny"
            else ""
        )
        + "".join(_live(name, r) for name, r in rounds.items())
        + (_offline(rounds) if rounds else "")
    )


DEFENSE_ROWS = (
    "teacher queries the campaign sent",
    "answers the attacker kept",
    "of which degraded (short, no log-probabilities)",
    "campaign accounts blocked",
    "answer tokens the attacker received",
    "honest requests served",
    "attacker's student score",
    "capability leaked per 1,000 queries",
)


def _defense_column(round_: RoundResult, untrained: float | None) -> list[str]:
    """The cells of DEFENSE_ROWS for one round."""
    campaign, honest = round_.campaign, round_.honest
    return [
        num(campaign.queries),
        num(campaign.answered),
        num(campaign.degraded),
        num(campaign.blocked_accounts),
        num(campaign.completion_tokens),
        f"{num(honest.statuses.get('200'))} of {num(honest.requests)}",
        pct(round_.student_score),
        _leak(leak_per_1000(round_, untrained)),
    ]


def _defenses(summary: ContestResult) -> str:
    rounds = summary.rounds
    if not rounds:
        return "<h2>3. What the defense did to the attacker</h2><p>No round ran.</p>"
    columns = [_defense_column(r, summary.untrained_student_score) for r in rounds.values()]
    head = "".join(f"<th>{escape(name)}</th>" for name in rounds)
    body = "".join(
        f"<tr><td>{escape(label)}</td>" + "".join(f'<td class="num">{c[i]}</td>' for c in columns) + "</tr>"
        for i, label in enumerate(DEFENSE_ROWS)
    )
    return (
        "<h2>3. What the defense did to the attacker</h2>"
        "<p>One column per defense. A defense works when the attacker's student ends up weaker for the "
        "same number of queries while honest users are still served.</p>"
        f"<table><tr><th>defense</th>{head}</tr>{body}</table>"
    )


def _setting(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _footer(summary: ContestResult) -> str:
    config = summary.config
    flags = [
        ("--world", config.world if config.world != "tiny" else None),
        ("--out", str(config.out)),
        ("--defense", ",".join(config.defenses) or None),
        ("--campaign-queries", config.campaign_queries),
        ("--campaign-accounts", config.campaign_accounts),
        ("--steps", config.steps),
    ]
    command = " ".join(["distillab demo"] + [f"{flag} {value}" for flag, value in flags if value is not None])
    settings = "".join(
        f"<tr><td>{escape(str(key))}</td><td>{escape(_setting(value))}</td></tr>"
        for key, value in config_settings(config).items()
    )
    return (
        "<footer><h2>5. Run it again</h2>"
        f"<p><code>{escape(command)}</code> reruns this contest; every finished step is reused, so only "
        "what changed runs again. <code>distillab demo --help</code> lists the other settings.</p>"
        "<p>docs/contest.md explains each step and how to run it against real models and logs.</p>"
        "<details><summary>All settings of this run</summary>"
        f"<table>{settings}</table></details></footer>"
    )


STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h2 { margin-top: 2em; border-top: 2px solid #ddd; padding-top: .6em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sig { color: #b00; font-weight: bold; }
.cards { display: flex; flex-wrap: wrap; gap: .8em; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 9em; }
.card .value { font-size: 1.8em; font-weight: bold; }
.chart svg { max-width: 100%; height: auto; }
.note { color: #666; font-size: .9em; }
code { background: #f4f4f4; padding: .1em .3em; }
dd { margin: .2em 0 .2em 1.2em; }
"""


def render_report(summary: ContestResult) -> str:
    """The contest as one self-contained HTML page; every number comes from `summary` (summary.json)."""
    body = "".join(
        section(summary) for section in (_headline, _curve, _caught, _defenses, proof_section, _footer)
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>distillab: the distillation contest</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
