"""`distillab prove attribution`: is the suspect's output distribution closer to a teacher than chance allows?

    results = run_attribution(AttributionConfig(suspect="http://suspect:8000/v1",
                                                references=("runs/teacher", "runs/other-model"),
                                                out=Path("runs/attribution")))

Every model (suspect and references, directories or OpenAI-compatible URLs) completes the same prompts
``samples_per_prompt`` times (`distillab.provenance.samples`). Then, following Model Equality Testing
(Gao, Liang & Guestrin 2024), with the kernel and tests of `distillab.provenance.mmd`:

- for each reference, the MMD equality test (H0: the suspect serves the same distribution);
- for the first reference (the candidate teacher) against each further one (a control), the closeness
  test (H0: the suspect is no closer to the candidate than to the control); with two or more controls,
  also "closer than every control" (an intersection-union test: its p-value is the largest one).

The equality test alone cannot show distillation (a student differs from its teacher, and a small
p-value says exactly that); the closeness test against a plausible other origin is the evidence of
attribution. Results go to ``OUT/evidence.json`` and ``OUT/evidence.html``.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from distillab.data.prompts import file_sha256, read_prompts
from distillab.errors import DataError
from distillab.provenance import mmd
from distillab.provenance.attribution_config import DEFAULT_PROMPTS, AttributionConfig
from distillab.provenance.evidence import TestResult
from distillab.provenance.report import write_evidence
from distillab.provenance.samples import sample

__all__ = ["AttributionConfig", "run_attribution"]


def prompt_file(config: AttributionConfig) -> Path:
    """The prompt file to use, checked row by row (the default set is written to OUT/prompts.jsonl)."""
    if config.prompts is None:
        from distillab.toy.prompts import prompt_rows, write_rows

        path = write_rows(prompt_rows("text", "test", DEFAULT_PROMPTS), config.out / "prompts.jsonl")
    else:
        path = config.prompts
    seen: dict[str, str] = {}
    for row in read_prompts(path):
        if row.id is not None:
            if row.id in seen:
                raise DataError(
                    f"{row.where}: id {row.id!r} was already used at {seen[row.id]}; "
                    "every prompt needs its own id"
                )
            seen[row.id] = row.where
    return path


def _sampling(config: AttributionConfig) -> str:
    return (
        f"temperature {config.temperature:g}, at most {config.max_tokens} tokens, "
        f"{config.samples_per_prompt} completions per prompt and model"
    )


def _assumptions(config: AttributionConfig) -> list[str]:
    return [
        f"Every model was sampled with the same settings ({_sampling(config)}) on the same prompts.",
        (
            "Each completion was drawn independently (samples are unseeded), and each model served one fixed "
            "distribution while it was sampled (no update or routing change in between)."
        ),
        (
            f"The kernel sees only the first {config.kernel_chars} characters of each completion: "
            "differences beyond them cannot be detected."
        ),
    ]


def equality_result(
    outcome: mmd.EqualityOutcome, suspect: str, reference: str, config: AttributionConfig
) -> TestResult:
    return TestResult(
        name=f"attribution/equality: {reference}",
        question=f"Does the suspect ({suspect}) produce the same distribution of completions as {reference}?",
        null_hypothesis=f"for every prompt, the suspect's completions come from the same distribution as "
        f"{reference}'s",
        method=(
            "Maximum mean discrepancy (MMD) two-sample test, as in Model Equality Testing (Gao, Liang & "
            "Guestrin 2024): a Hamming kernel on the first characters of completions to the same prompt; "
            "statistic = unbiased MMD^2 per prompt, averaged over prompts (0 when the models agree); "
            f"p-value from {outcome.permutations} random permutations of the suspect/reference labels "
            "within each prompt, p = (1 + number of permutations scoring at least the observed value) / "
            f"(1 + {outcome.permutations})."
        ),
        assumptions=_assumptions(config)
        + [
            (
                "A small p-value says the two distributions differ, not why: a student distilled from the "
                "reference also differs from it. The closeness test asks which reference the suspect is "
                "closest to."
            )
        ],
        sample_sizes={
            "prompts": outcome.prompts,
            "suspect_samples": outcome.x_samples,
            "reference_samples": outcome.y_samples,
            "permutations": outcome.permutations,
            "prompts_left_out": outcome.dropped_prompts,
        },
        statistic=outcome.mmd2,
        p_value=outcome.p_value,
        alpha=config.alpha,
        effect={
            "mmd2": outcome.mmd2,
            "mmd2_by_chance_mean": outcome.null_mean,
            "mmd2_by_chance_sd": outcome.null_sd,
            "standardized_effect_z": outcome.z,
        },
        details={
            "suspect": suspect,
            "reference": reference,
            "kernel": "hamming-characters",
            "kernel_chars": config.kernel_chars,
            "sampling": _sampling(config),
            "seed": config.seed,
        },
    )


def closeness_result(
    outcome: mmd.ClosenessOutcome, suspect: str, candidate: str, control: str, config: AttributionConfig
) -> TestResult:
    few = (
        []
        if outcome.prompts >= 20
        else [
            (
                f"Only {outcome.prompts} prompts: the normal approximation behind the p-value "
                "wants about 20 or more."
            )
        ]
    )
    return TestResult(
        name=f"attribution/closer: {candidate} vs {control}",
        question=f"Are the suspect's ({suspect}) completions closer to {candidate}'s than to {control}'s?",
        null_hypothesis=f"the suspect's completions are, on average over these prompts, no closer to "
        f"{candidate}'s than to {control}'s",
        method=(
            "For each prompt, d = MMD^2(suspect, control) - MMD^2(suspect, candidate), from unbiased "
            "estimates with the same Hamming kernel as the equality test; one-sided t-test over prompts "
            "that the mean of d is above 0 (prompts are independent, so their d's are)."
        ),
        assumptions=_assumptions(config)
        + few
        + [
            (
                "The answer is relative: 'closer to the candidate than to the control'. It points to "
                "distillation only if the control is a plausible other origin (another model of similar "
                "ability on these prompts); a weak or unrelated control makes any competent suspect look "
                "close to the candidate."
            )
        ],
        sample_sizes={
            "prompts": outcome.prompts,
            "suspect_samples": outcome.samples["suspect"],
            "candidate_samples": outcome.samples["a"],
            "control_samples": outcome.samples["b"],
            "prompts_left_out": outcome.dropped_prompts,
        },
        statistic=outcome.t,
        p_value=outcome.p_value,
        alpha=config.alpha,
        effect={
            "mmd2_to_candidate": outcome.mmd2_to_a,
            "mmd2_to_control": outcome.mmd2_to_b,
            "mean_difference": outcome.mean_difference,
            "standardized_effect": outcome.standardized,
        },
        details={
            "suspect": suspect,
            "candidate": candidate,
            "control": control,
            "kernel": "hamming-characters",
            "kernel_chars": config.kernel_chars,
            "sampling": _sampling(config),
        },
    )


def all_controls_result(
    results: list[TestResult], suspect: str, candidate: str, config: AttributionConfig
) -> TestResult:
    controls = [r.details["control"] for r in results]
    worst = max(results, key=lambda r: r.p_value)
    return TestResult(
        name=f"attribution/closer-than-all-controls: {candidate}",
        question=(
            f"Are the suspect's ({suspect}) completions closer to {candidate}'s than to every control's?"
        ),
        null_hypothesis=f"for at least one control, the suspect's completions are no closer to {candidate}'s "
        "than to that control's",
        method=(
            "Intersection-union test over the closeness tests against each control: the null is rejected "
            "only if every one of them is, so its p-value is their largest and needs no correction for "
            "multiple testing."
        ),
        assumptions=worst.assumptions,
        sample_sizes={
            "controls": len(results),
            **{k: v for k, v in worst.sample_sizes.items() if k != "control_samples"},
        },
        statistic=min(r.statistic for r in results),
        p_value=worst.p_value,
        alpha=config.alpha,
        effect={"smallest_standardized_effect": min(r.effect["standardized_effect"] for r in results)},
        details={
            "suspect": suspect,
            "candidate": candidate,
            "controls": controls,
            "weakest_control": worst.details["control"],
        },
    )


def run_attribution(config: AttributionConfig, *, console: Console | None = None) -> list[TestResult]:
    """Sample every model, run every test, write OUT/evidence.json and OUT/evidence.html."""
    console = console or Console(stderr=True)
    config.out.mkdir(parents=True, exist_ok=True)
    prompts = prompt_file(config)
    models = {"suspect": config.suspect, **{f"reference-{i + 1}": r for i, r in enumerate(config.references)}}
    samples = {}
    for role, model in models.items():
        console.print(f"sampling {role}: {model}", markup=False, highlight=False)
        samples[role] = sample(
            model,
            prompts,
            config.out / "samples" / role,
            n=config.samples_per_prompt,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            concurrency=config.concurrency,
            api_key_env=config.api_key_env,
            max_retries=config.max_retries,
            timeout=config.timeout,
            progress=config.progress,
            console=console,
        )
    results = [
        equality_result(
            mmd.equality_test(
                samples["suspect"],
                samples[role],
                length=config.kernel_chars,
                permutations=config.permutations,
                seed=config.seed,
            ),
            config.suspect,
            model,
            config,
        )
        for role, model in models.items()
        if role != "suspect"
    ]
    candidate, controls = config.references[0], config.references[1:]
    closer = [
        closeness_result(
            mmd.closeness_test(
                samples["suspect"],
                samples["reference-1"],
                samples[f"reference-{i + 2}"],
                length=config.kernel_chars,
            ),
            config.suspect,
            candidate,
            control,
            config,
        )
        for i, control in enumerate(controls)
    ]
    results += closer
    if len(closer) > 1:
        results.append(all_controls_result(closer, config.suspect, candidate, config))
    for result in results:
        result.details["prompts_file"] = f"{prompts} ({file_sha256(prompts)})"
    write_evidence(results, config.out, title=f"Attribution of {config.suspect}")
    return results
