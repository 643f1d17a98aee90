"""Section 4 of the contest report: the proof table, the attacker's students beside the control."""

from __future__ import annotations

from html import escape

from distillab.demo.fmt import NA, p_text, plain, test_label
from distillab.demo.results import ContestResult, Proof, TestBrief

MEANINGS = (
    ("radioactivity", "the suspect learned from text carrying the teacher's watermark"),
    ("membership", "the suspect was trained on the very answers the gateway served the campaign"),
    ("attribution/closer", "the suspect's answers are closer to the first model's than to the second's"),
    ("attribution/equality", "the suspect is a different model from this one (expected of every student)"),
)
"""What a significant result says, by test-name prefix."""
POINTS_AT_TEACHER = ("radioactivity", "membership", "attribution/closer")


Columns = list[tuple[str, dict[str, TestBrief]]]
"""(column label, tests by name) for each suspect."""


def _tests(proof: Proof) -> dict[str, TestBrief]:
    return {t.name: t for t in proof.tests()}


def _suspects(summary: ContestResult) -> Columns:
    """Each round's attacker's student, then the control."""
    columns = [(f"attacker's student, {name}", _tests(r.proof)) for name, r in summary.rounds.items()]
    return [*columns, ("control student", _tests(summary.control.proof))]


def _p_cell(test: TestBrief | None) -> str:
    if test is None:
        return '<td class="num">—</td>'
    if test.significant:
        return f'<td class="num sig">{p_text(test.p_value)} significant</td>'
    return f'<td class="num">{p_text(test.p_value)}</td>'


def _significant_counts(columns: Columns) -> str:
    counts = [
        (label, sum(t.significant for t in evidence), len(evidence))
        for label, tests in columns
        if (evidence := [t for name, t in tests.items() if name.startswith(POINTS_AT_TEACHER)])
    ]
    return "; ".join(f"{escape(label)}: {k} of {n}" for label, k, n in counts) or NA


HOW_TO_READ = (
    "<h3>How to read this</h3><p>Each test starts from the innocent explanation (for example, “the "
    "suspect never learned from watermarked text”). The p-value is the chance of data at least this extreme "
    "if that explanation were true; below the test's level (stated in each verdict) the test calls the "
    "result significant. On the tests that point at the teacher (radioactivity, membership of the served "
    "answers, and closer to the teacher than to a bystander model), "
    "the <b>control should not be significant</b>: if it is, the test raises "
    "false alarms on this setup and the attacker's result means little. The equality tests only ask whether "
    "the suspect is that very model, so a significant result there is expected of every student. A "
    "significant result on the attacker's student is <b>evidence, not certainty</b>: a test at level 0.05 "
    "calls one innocent model in twenty significant by chance, and each test rests on assumptions. A result "
    "that is not significant does not clear a model either: too few samples, a degraded harvest or short "
    "training can hide the signal.</p>"
)


def _proof_row(name: str, columns: Columns, teacher: str) -> str:
    question = next(tests[name].question for _, tests in columns if name in tests)
    meaning = next((words for prefix, words in MEANINGS if name.startswith(prefix)), "")
    return (
        f"<tr><td><b>{escape(test_label(name, teacher))}</b><br><span class='note'>"
        f"{escape(plain(question, teacher))}</span></td><td>{escape(meaning)}</td>"
        + "".join(_p_cell(tests.get(name)) for _, tests in columns)
        + "</tr>"
    )


def _verdicts(names: list[str], columns: Columns, teacher: str) -> str:
    """Each test's verdict sentence for the first round's attacker's student and the control."""
    shown = [columns[0], columns[-1]] if len(columns) > 1 else columns
    return "".join(
        f"<dt>{escape(test_label(name, teacher))}</dt>"
        + "".join(
            f"<dd><b>{escape(label)}:</b> {escape(plain(tests[name].verdict, teacher))}</dd>"
            for label, tests in shown
            if name in tests
        )
        for name in names
    )


def proof_section(summary: ContestResult) -> str:
    teacher, columns = summary.teacher.path, _suspects(summary)
    names = list(dict.fromkeys(name for _, tests in columns for name in tests))
    if not names:
        return "<h2>4. The proof</h2><p>No radioactivity or attribution test was recorded.</p>"
    head = "".join(f"<th>{escape(label)}</th>" for label, _ in columns)
    rows = "".join(_proof_row(name, columns, teacher) for name in names)
    return (
        "<h2>4. The proof: can the provider show the student came from its teacher?</h2>"
        "<p>Afterwards, the provider tests the attacker's student and, as a check, a control student "
        "trained on the task's own answers that never saw teacher output. Cells are p-values.</p>"
        f"<table><tr><th>test and question</th><th>a significant result says</th>{head}</tr>{rows}"
        f"</table>{HOW_TO_READ}<p>Significant tests that point at the teacher, in this run: "
        f"{_significant_counts(columns)}.</p>"
        f"<h3>Verdicts in full</h3><dl>{_verdicts(names, columns, teacher)}</dl>"
    )
