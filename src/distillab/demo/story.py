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
from html import escape
from typing import Any

from distillab.demo.charts import Reference, line_chart, step_chart
from distillab.demo.fmt import (
    NA,
    as_dict,
    as_list,
    duration,
    num,
    num2,
    number,
    pct,
    rounds_of,
)
from distillab.demo.story_proof import proof_section

DEFENSE_WORDS = {
    "off": "the gateway only serves and logs",
    "detect": "the live detector flags accounts, which are still served in full",
    "detect+degrade": "flagged accounts get short answers without log-probabilities",
}


def _campaign(round_: dict[str, Any], key: str) -> str:
    return num(as_dict(round_.get("campaign")).get(key))


def leak_per_1000(round_: dict[str, Any], untrained: Any) -> float | None:
    """Score points the full harvest added over the untrained student, per 1,000 teacher queries sent."""
    student, base = number(round_.get("student_score")), number(untrained)
    queries = number(as_dict(round_.get("campaign")).get("queries"))
    if student is None or base is None or not queries:
        return None
    return 100 * (student - base) / (queries / 1000)


def _leak(value: float | None) -> str:
    return NA if value is None else f"{value:+,.1f} points"


def _metric(summary: dict[str, Any]) -> str:
    return str(summary.get("metric") or "score")


def _metric_note(summary: dict[str, Any]) -> str:
    """What the score means, in words, for the metrics the contest reports."""
    metric = _metric(summary)
    if "skill" in metric:
        losses = as_dict(summary.get("reference_losses"))
        return (
            ": its loss on held-out real text (the task's reference continuations) as a share of the "
            f"teacher's gain over the untrained student, so the teacher scores 100% (loss "
            f"{num2(losses.get('teacher'))} nats/token) and the untrained student 0% (loss "
            f"{num2(losses.get('untrained'))})"
        )
    if "accuracy" in metric:
        return ": the share of held-out problems it answers correctly"
    return ""


def _headline(summary: dict[str, Any]) -> str:
    rounds, untrained = rounds_of(summary), summary.get("untrained_student_score")
    cards = [("the provider's teacher", pct(as_dict(summary.get("teacher")).get("score")))]
    cards += [
        (f"attacker's student, defense “{name}”", pct(r.get("student_score"))) for name, r in rounds.items()
    ]
    control = as_dict(summary.get("control")).get("score")
    cards += [
        ("control student (never saw the teacher)", pct(control)),
        ("untrained student", pct(untrained)),
    ]
    shown = "".join(
        f'<div class="card"><div class="value">{value}</div><div>{escape(label)}</div></div>'
        for label, value in cards
    )
    sizes = {(_campaign(r, "queries"), _campaign(r, "accounts")) for r in rounds.values()}
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
            f"{_campaign(r, 'queries')} teacher queries over {_campaign(r, 'accounts')} accounts in round "
            f"“{escape(name)}”"
            for name, r in rounds.items()
        )
        campaign += ", and the attacker trained a student on the answers it kept."
    return (
        f'<h1>The distillation contest</h1><div class="cards">{shown}</div>'
        f"<p>Each model's score is its {escape(_metric(summary))}{_metric_note(summary)}. {campaign} "
        f"The whole run took {duration(summary.get('seconds'))}.</p>"
    )


def _curve_points(round_: dict[str, Any]) -> list[tuple[float, float]]:
    points = [
        (number(as_dict(p).get("answers")), number(as_dict(p).get("score")))
        for p in as_list(round_.get("curve"))
    ]
    return [(x, y) for x, y in points if x is not None and y is not None]


def _curve(summary: dict[str, Any]) -> str:
    rounds, untrained = rounds_of(summary), summary.get("untrained_student_score")
    series = {f"defense {name}": points for name, r in rounds.items() if (points := _curve_points(r))}
    references = [
        Reference("teacher", number(as_dict(summary.get("teacher")).get("score"))),
        Reference("control", number(as_dict(summary.get("control")).get("score"))),
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
        f"queries (student {pct(r.get('student_score'))}, untrained {pct(untrained)}, "
        f"{_campaign(r, 'queries')} queries)</li>"
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


def _first_flags(flags: list[dict[str, Any]]) -> dict[str, tuple[bool, float | None]]:
    """Account -> (is it a campaign account, seconds into the round of its first flag)."""
    first: dict[str, tuple[bool, float | None]] = {}
    for flag in sorted(flags, key=lambda f: (number(f.get("at_s")) is None, number(f.get("at_s")) or 0.0)):
        first.setdefault(str(flag.get("account")), (bool(flag.get("campaign")), number(flag.get("at_s"))))
    return first


def _reasons(flags: list[dict[str, Any]], top: int = 3) -> str:
    counts = Counter(str(f["reason"]) for f in flags if f.get("reason"))
    if not counts:
        return ""
    items = "".join(f"<li><b>{count}×</b> {escape(reason)}</li>" for reason, count in counts.most_common(top))
    rest = len(counts) - top
    more = f'<p class="note">and {rest} other reason{"s" if rest > 1 else ""}.</p>' if rest > 0 else ""
    return f"<p>The most common reasons the detector gave:</p><ul>{items}</ul>{more}"


def _live(name: str, round_: dict[str, Any]) -> str:
    words = DEFENSE_WORDS.get(name, "a defense this report does not describe")
    heading = f"<h3>Round “{escape(name)}”: {escape(words)}</h3>"
    flags = [as_dict(f) for f in as_list(round_.get("flags"))]
    if name == "off":
        return heading + (
            "<p>The live detector was off in this round: nothing was flagged while the "
            "campaign ran. The offline detector below still read the round's log "
            "afterwards.</p>"
        )
    if not flags:
        return heading + "<p>The live detector flagged no account in this round.</p>"
    first = _first_flags(flags)
    caught = sorted(at for campaign, at in first.values() if campaign and at is not None)
    honest = sorted(at for campaign, at in first.values() if not campaign and at is not None)
    seconds, accounts = number(round_.get("seconds")), number(as_dict(round_.get("campaign")).get("accounts"))
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
    queries = [q for f in flags if f.get("campaign") and (q := number(f.get("after_queries"))) is not None]
    median = (
        f"<p>When flagged, a campaign account had sent a median of "
        f"<b>{num(statistics.median(queries))} queries</b> (the campaign sent "
        f"{_campaign(round_, 'queries')} in all).</p>"
        if queries
        else ""
    )
    honest_accounts = num(as_dict(round_.get("honest")).get("accounts"))
    return (
        f'{heading}<div class="chart">{chart}</div>'
        f"<p>The live detector flagged <b>{n_caught} of {num(accounts)} campaign accounts</b>{when} "
        f"({duration(seconds)} of traffic), and {len(first) - n_caught} of {honest_accounts} honest "
        f"accounts.</p>{median}{_reasons(flags)}"
    )


def _campaigns_detected(metrics: dict[str, Any]) -> str:
    campaigns = metrics.get("campaigns")
    total = num(len(campaigns)) if isinstance(campaigns, dict) else NA
    return f"{num(metrics.get('campaigns_detected'))} of {total}"


OFFLINE_ROWS = {
    "campaign accounts flagged (recall)": lambda m: pct(m.get("recall")),
    "flagged accounts that were campaign (precision)": lambda m: pct(m.get("precision")),
    "honest accounts flagged (false-positive rate)": lambda m: pct(m.get("honest_false_positive_rate")),
    "median queries until flagged": lambda m: num(m.get("median_queries_until_flagged")),
    "campaigns detected": _campaigns_detected,
}


def _offline(rounds: dict[str, dict[str, Any]]) -> str:
    metrics = [as_dict(as_dict(r.get("detect")).get("metrics")) for r in rounds.values()]
    head = "".join(f"<th>{escape(name)}</th>" for name in rounds)
    body = "".join(
        f"<tr><td>{label}</td>" + "".join(f'<td class="num">{cell(m)}</td>' for m in metrics) + "</tr>"
        for label, cell in OFFLINE_ROWS.items()
    )
    notes = dict.fromkeys(
        str(n) for r in rounds.values() for n in as_list(as_dict(r.get("detect")).get("notes"))
    )
    return (
        "<h3>Offline: the detector re-reads each round's log</h3>"
        "<p>After each round, <code>distillab detect</code> read the gateway's request log as an analyst "
        "would, calibrated on the provider's known-good honest traffic.</p>"
        f"<table><tr><th>defense</th>{head}</tr>{body}</table>"
        + "".join(f'<p class="note">{escape(note)}</p>' for note in notes)
    )


def _caught(summary: dict[str, Any]) -> str:
    rounds, rpm = rounds_of(summary), num(as_dict(summary.get("config")).get("rpm"))
    return (
        "<h2>2. How the campaign was caught</h2>"
        f"<p>Every campaign account stayed under the gateway's rate limit ({rpm} requests a minute per "
        "account), so no single account stood out by volume. The detector looks instead at what "
        "accounts ask and how they are linked, against the provider's honest traffic: live inside the "
        "gateway while the round runs, and offline afterwards.</p>"
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


def _defense_column(round_: dict[str, Any], untrained: Any) -> list[str]:
    """The cells of DEFENSE_ROWS for one round."""
    honest = as_dict(round_.get("honest"))
    served = as_dict(honest.get("statuses")).get("200")
    return [
        _campaign(round_, "queries"),
        _campaign(round_, "answered"),
        _campaign(round_, "degraded"),
        _campaign(round_, "blocked_accounts"),
        _campaign(round_, "completion_tokens"),
        f"{num(served)} of {num(honest.get('requests'))}",
        pct(round_.get("student_score")),
        _leak(leak_per_1000(round_, untrained)),
    ]


def _defenses(summary: dict[str, Any]) -> str:
    rounds = rounds_of(summary)
    if not rounds:
        return "<h2>3. What the defense did to the attacker</h2><p>No round ran.</p>"
    columns = [_defense_column(r, summary.get("untrained_student_score")) for r in rounds.values()]
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


def _footer(summary: dict[str, Any]) -> str:
    config = as_dict(summary.get("config"))
    defenses = ",".join(map(str, as_list(config.get("defenses")))) or None
    flags = [
        ("--out", config.get("out")),
        ("--defense", defenses),
        ("--campaign-queries", config.get("campaign_queries")),
        ("--campaign-accounts", config.get("campaign_accounts")),
        ("--steps", config.get("steps")),
    ]
    command = " ".join(["distillab demo"] + [f"{flag} {value}" for flag, value in flags if value is not None])
    settings = "".join(
        f"<tr><td>{escape(str(key))}</td><td>{escape(_setting(value))}</td></tr>"
        for key, value in config.items()
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


def render_report(summary: dict[str, Any]) -> str:
    """The contest as one self-contained HTML page; every number comes from `summary` (summary.json)."""
    summary = as_dict(summary)
    body = "".join(
        section(summary) for section in (_headline, _curve, _caught, _defenses, proof_section, _footer)
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>distillab: the distillation contest</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
