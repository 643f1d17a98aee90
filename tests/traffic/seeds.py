"""Every set of tests/traffic logs a benchmark runs, by seed, and whether it is held out.

A log is (seed, accounts, days); honest-only sets keep each seed's honest accounts. Held-out sets are
reported, never developed on; development sets are where the detector's changes are made and checked.
A seed must not serve both: `test_seed_sets.py` checks every held-out set against every development
set. Declare a new set here, before any run of it.

    from traffic.seeds import DEV, DEV_REFERENCE
"""

from __future__ import annotations

LOGS = {"seed101-600": (101, 600, 7), "seed102-600": (102, 600, 7), "seed103-300": (103, 300, 7)}
HELDOUT_2 = {"seed301-600": (301, 600, 7), "seed302-600": (302, 600, 7), "seed303-300": (303, 300, 7)}
"""A second held-out set (`--heldout-2`), declared before the false-positive work on content writers
and looked at only to report: nothing was developed on these seeds."""
DEV = {f"seed{seed}-600": (seed, 600, 7) for seed in range(201, 207)}
"""Development logs (`--dev`, with DEV_REFERENCE): the detector's changes after the first held-out
report were developed on these, never on LOGS or HELDOUT_2."""
NULL_DEV = {f"honest{seed}-600": (seed, 600, 7) for seed in range(401, 407)}
NULL_HELDOUT = {f"honest{seed}-600": (seed, 600, 7) for seed in range(501, 507)}
"""Honest-only logs (`--null`, `--null-2`): each seed's campaign accounts left out, so every flag is a
false positive. NULL_DEV is for finding why honest accounts are flagged; NULL_HELDOUT, declared with it,
only reports the honest false-positive rate of the final code."""
DEV_2 = {f"seed{seed}-600": (seed, 600, 7) for seed in range(211, 217)}
NULL_DEV_2 = {f"honest{seed}-600": (seed, 600, 7) for seed in range(411, 421)}
"""Development sets declared 2026-12-07 (`--dev-2` with DEV_REFERENCE, `--null-dev-2` honest-only),
before any run of them, for the work on honest accounts flagged through linked groups (issue 16): on
the first held-out set 4 developers went down with one behaviourally linked group, a kind of honest
group DEV and NULL_DEV never produced. More development seeds, so that such groups are found (and
honest groups' p-values checked for calibration) without looking at held-out seeds."""
HELDOUT_3 = {"seed601-600": (601, 600, 7), "seed602-600": (602, 600, 7), "seed603-300": (603, 300, 7)}
NULL_HELDOUT_2 = {f"honest{seed}-600": (seed, 600, 7) for seed in range(511, 517)}
"""Held-out sets declared 2026-12-07 with DEV_2 and NULL_DEV_2, before the issue 16 work began
(`--heldout-3`, reference as LOGS; `--null-3`, honest-only): run once, on the final code of that work,
to report; nothing is developed on them."""
HELDOUT_4 = {"seed701-600": (701, 600, 7), "seed702-600": (702, 600, 7), "seed703-300": (703, 300, 7)}
NULL_HELDOUT_3 = {f"honest{seed}-600": (seed, 600, 7) for seed in range(521, 527)}
REFERENCE_4 = (903, 1100, 7)
"""Held-out sets declared 2026-12-08, before any run of them, with a reference seed of their own
(`--heldout-4`, `--null-4`): every earlier held-out set had been seen once by the group calibration
work. Run once, on the final code of issue 16, to report; nothing is developed on them."""
HELDOUT_5 = {"seed801-600": (801, 600, 7), "seed802-600": (802, 600, 7), "seed803-300": (803, 300, 7)}
NULL_HELDOUT_4 = {f"honest{seed}-600": (seed, 600, 7) for seed in range(531, 537)}
REFERENCE_5 = (905, 1100, 7)
"""Held-out sets declared 2026-12-08, after HELDOUT_4 was run, before any run of these (`--heldout-5`,
`--null-5`): HELDOUT_4's seeds 701-703 turned out to be among benchmarks/paraphrase_overlap.py's
honest-only null seeds (701-712), so their honest accounts had been looked at while paraphrase overlap
was developed. These seeds and this reference seed are used by no other run."""
QUICK_LOGS = {"seed101-300": (101, 300, 3), "seed102-200": (102, 200, 3)}
REFERENCE = (900, 1100, 7)
"""Seed, accounts and days of the reference: its honest accounts only (about 1000)."""
QUICK_REFERENCE = (900, 500, 3)
DEV_REFERENCE = (901, 1100, 7)
PARAPHRASE_NULL = range(701, 713)
"""benchmarks/paraphrase_overlap.py's honest-only logs (600 accounts, a week) for the paraphrase null:
development data (the paraphrase overlap work looked at them)."""
LIVE_LOG, LIVE_QUICK_LOG = (104, 300, 3), (105, 150, 2)
"""benchmarks/detect_live_generalize.py's replayed log (against REFERENCE, or QUICK_REFERENCE): held out."""


def _seeds(*sets: object) -> set[int]:
    out: set[int] = set()
    for spec in sets:
        if isinstance(spec, dict):
            out |= {seed for seed, _, _ in spec.values()}
        elif isinstance(spec, tuple):
            out.add(spec[0])
        else:
            out |= set(spec)  # type: ignore[call-overload]
    return out


HELD_OUT: dict[str, set[int]] = {
    "LOGS": _seeds(LOGS, REFERENCE),
    "HELDOUT_2": _seeds(HELDOUT_2),
    "HELDOUT_3": _seeds(HELDOUT_3),
    "HELDOUT_4": _seeds(HELDOUT_4, REFERENCE_4),
    "HELDOUT_5": _seeds(HELDOUT_5, REFERENCE_5),
    "NULL_HELDOUT": _seeds(NULL_HELDOUT),
    "NULL_HELDOUT_2": _seeds(NULL_HELDOUT_2),
    "NULL_HELDOUT_3": _seeds(NULL_HELDOUT_3),
    "NULL_HELDOUT_4": _seeds(NULL_HELDOUT_4),
    "LIVE": _seeds(LIVE_LOG, LIVE_QUICK_LOG),
}
DEVELOPMENT: dict[str, set[int]] = {
    "DEV": _seeds(DEV, DEV_REFERENCE),
    "DEV_2": _seeds(DEV_2),
    "NULL_DEV": _seeds(NULL_DEV),
    "NULL_DEV_2": _seeds(NULL_DEV_2),
    "PARAPHRASE_NULL": _seeds(PARAPHRASE_NULL),
}
KNOWN_OVERLAPS = {("HELDOUT_4", "PARAPHRASE_NULL"): {701, 702, 703}}
"""Found after HELDOUT_4 was run (its honest accounts had been seen as paraphrase null data); said in
docs/detect.md with its numbers, and HELDOUT_5 declared in its place."""
