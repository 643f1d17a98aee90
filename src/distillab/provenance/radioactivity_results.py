"""The evidence of a radioactivity test: each key's tally as an exact binomial test, and "any key" (Holm).

`radioactivity_results(mode, marks, tallies, ...)` turns the per-key tallies of
`distillab.provenance.radioactivity` (open or closed mode) into `TestResult`s whose method and
assumptions say in words what was scored and what the p-value rests on; with several keys each gets a
Holm-adjusted p-value and one more result tests "some key leaked".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distillab.provenance.detect import Tally, binomial_result
from distillab.provenance.evidence import TestResult
from distillab.provenance.stats import holm
from distillab.provenance.watermark import Watermark

OPEN_METHOD = (
    "The suspect read {texts} texts ({tokens} tokens) under teacher forcing; at every position "
    "{predicted} paired with the preceding context from the text. Each distinct "
    "(context, token) pair was scored once, {skipped}, "
    "and the number of green pairs was compared with Binomial(pairs, gamma = {gamma:g}) by an exact "
    "one-sided test."
)
CLOSED_METHOD = (
    "The suspect completed {prompts} prompts ({texts} completions, {tokens} tokens). Each distinct "
    "(context, token) pair of the completions was scored once, pairs occurring in the prompts were "
    "skipped, and the number of green pairs was compared with Binomial(pairs, gamma = {gamma:g}) by "
    "an exact one-sided test."
)


REFERENCE_ASSUMPTION = (
    "The reference model does not depend on the key. (Had it learned the mark, the tokens "
    "scored would lean away from green: the test would lose power, not flag more often.)"
)


def _assumptions(mode: str, reference: bool = False) -> list[str]:
    common = [
        (
            "The key was secret: a model that never saw text marked with it is green on a distinct pair with "
            "probability at most gamma, independently of other pairs."
        ),
        "The watermark settings (scheme, context, gamma) are those the marked text was served with.",
    ]
    if mode == "open":
        return [
            "The suspect uses the watermarked model's tokenizer.",
            *common,
            *([] if not reference else [REFERENCE_ASSUMPTION]),
        ]
    return [
        (
            "The completions were tokenized with the watermarked model's tokenizer and are the suspect's own "
            "(no post-processing that rewrites tokens)."
        ),
        *common,
    ]


def radioactivity_results(
    mode: str,
    marks: Sequence[Watermark],
    tallies: Sequence[Tally],
    *,
    sample_sizes: dict[str, int],
    alpha: float = 0.05,
    suspect: str = "the suspect",
    details: dict[str, Any] | None = None,
) -> list[TestResult]:
    """One TestResult per key (Holm-adjusted p-values in details) and, for several keys, the combined test."""
    unmarked = bool((details or {}).get("unmarked_texts"))
    top_k = int((details or {}).get("top_k", 1))
    reference = (details or {}).get("reference")
    if reference is not None:
        candidates = int((details or {}).get("candidates", 20))
        which = "the token" if top_k == 1 else f"each of the {top_k} tokens"
        predicted = (
            f"{which}, among its {candidates} most likely next tokens, whose log-probability rose most "
            f"over that of the reference model {reference} was"
        )
    else:
        predicted = (
            "its most likely next token was"
            if top_k == 1
            else f"each of its {top_k} most likely next tokens was"
        )
    skipped = (
        "the texts were declared and checked unmarked, so pairs occurring in them were scored too"
        if unmarked
        else "pairs occurring in the texts themselves were skipped"
    )
    method = (OPEN_METHOD if mode == "open" else CLOSED_METHOD).format(
        skipped=skipped,
        predicted=predicted,
        gamma=marks[0].config.gamma,
        texts=sample_sizes.get("texts", 0),
        tokens=sample_sizes.get("tokens", 0),
        prompts=sample_sizes.get("prompts", 0),
    )
    results = []
    for mark, counts in zip(marks, tallies):
        who = f"for account {mark.account}" if mark.account is not None else "with the default key"
        result = binomial_result(
            counts,
            mark,
            name=f"radioactivity/{mode}" + (f"/{mark.account}" if mark.account is not None else ""),
            question=f"Was {suspect} trained on text watermarked {who} (key id {mark.key_id})?",
            null_hypothesis="the suspect never learned from text marked with this key",
            method=method,
            assumptions=_assumptions(mode, reference is not None),
            sample_sizes=sample_sizes,
            details={"mode": mode, "suspect": suspect, **(details or {})},
        )
        result.alpha = alpha
        results.append(result)
    if len(results) > 1:
        adjusted = holm([r.p_value for r in results])
        for result, p in zip(results, adjusted):
            result.details["p_holm"] = p
            result.details["keys_tested"] = len(results)
        best = min(range(len(results)), key=lambda i: adjusted[i])
        results.append(
            TestResult(
                name=f"radioactivity/{mode}/any-key",
                question=(
                    f"Was {suspect} trained on text watermarked with any of the {len(marks)} keys tested?"
                ),
                null_hypothesis="the suspect never learned from text marked with any of these keys",
                method=(
                    "Holm's correction over the per-key tests; this p-value is the smallest Holm-adjusted "
                    "one (Bonferroni), valid whatever the dependence between the per-key tests."
                ),
                assumptions=_assumptions(mode, reference is not None),
                sample_sizes=sample_sizes,
                statistic=float(len(marks)),
                p_value=adjusted[best],
                alpha=alpha,
                effect={"flagged_keys": float(sum(p < alpha for p in adjusted))},
                details={
                    "mode": mode,
                    "suspect": suspect,
                    "strongest_account": marks[best].account,
                    "strongest_key_id": marks[best].key_id,
                    "flagged_accounts": [m.account for m, p in zip(marks, adjusted) if p < alpha],
                    "per_key": [
                        {"account": m.account, "key_id": m.key_id, "p_value": r.p_value, "p_holm": p}
                        for m, r, p in zip(marks, results, adjusted)
                    ],
                },
            )
        )
    return results
