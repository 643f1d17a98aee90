"""What a reference can certify, said at the start of a run and kept in summary.json.

A conformal p-value is a rank among N honest reference units, so none is below 1/(N+1) in one
behaviour family and, with Bonferroni over F families, no combined p-value is below F/(N+1): the
smallest false-positive rate the reference certifies by ranks alone. A target below that needs
`ceil(F / target) - 1` reference units. Below it, flags rest on the exponential tail fitted to the
reference distances (a model, not a count; `scoring.Tail`), and a self-calibrated run has no tail at
all, so it flags nothing below it. Either way the run also reports what ranks alone flag at the
smallest certifiable rate.

    cert = certification(calibration, target_fpr=0.001, self_reference=False)
    console.print(message(cert, self_reference=False))     # before the log is scored
"""

from __future__ import annotations

import math
from dataclasses import replace

from .result import Certification
from .scoring import FAMILIES, Calibration

SHOWN = 50


def certification(calibration: Calibration, target_fpr: float, *, left_out: int = 0) -> Certification:
    smallest = calibration.smallest_p()
    return Certification(
        reference_units=calibration.n,
        behaviours=len(FAMILIES),
        smallest_certifiable_fpr=smallest,
        target_fpr=target_fpr,
        certifiable=smallest <= target_fpr,
        reference_units_needed=math.ceil(len(FAMILIES) / target_fpr - 1e-9) - 1,
        tail=any(tail.exceed for tail in calibration.tails),
        left_out=left_out,
    )


def message(cert: Certification, *, self_reference: bool) -> str:
    """The sentence `distillab detect` starts with: what the reference certifies at `--target-fpr`."""
    units = (
        f"calibrated on the log's own accounts (no --reference): {cert.reference_units:,} kept as honest"
        + (f", {cert.left_out:,} in dense unusual clusters left out" if cert.left_out else "")
        if self_reference
        else f"the reference has {cert.reference_units:,} honest units"
    )
    floor = (
        f"ranks alone certify a false-positive rate of {cert.smallest_certifiable_fpr:.2g} at best "
        f"({cert.behaviours} behaviours, Bonferroni: {cert.behaviours}/({cert.reference_units:,}+1))"
    )
    if cert.certifiable:
        return f"{units}; {floor}, within --target-fpr {cert.target_fpr:g}."
    need = f"--target-fpr {cert.target_fpr:g} needs {cert.reference_units_needed:,} " + (
        "honest accounts in the log or a clean --reference" if self_reference else "reference units"
    )
    beyond = (
        "nothing can be flagged at it (self-calibrated p-values come from ranks only)"
        if not cert.tail
        else "flags at it rest on the tail fitted to the reference distances, not on ranks"
    )
    return (
        f"{units}: too few for --target-fpr {cert.target_fpr:g}. {floor[0].upper()}{floor[1:]}; {need}; "
        f"{beyond}. summary.json lists what would be flagged at {cert.smallest_certifiable_fpr:.2g}."
    )


def at_smallest(cert: Certification, flagged_by: dict[str, str], order: list[str]) -> Certification:
    """`cert` with what is flagged at the smallest certifiable rate (`flagged_by`: the accounts flagged
    there; `order`: accounts, most unusual first)."""
    shown = [a for a in order if a in flagged_by]
    return replace(cert, flagged_at_smallest=len(flagged_by), accounts_at_smallest=shown[:SHOWN])
