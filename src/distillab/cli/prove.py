"""`distillab prove ...`: statistical evidence that a suspect model was distilled from yours."""

# ruff: noqa: B008  (typer declares options as argument defaults)

from __future__ import annotations

from pathlib import Path

import typer

from distillab.cli.options import option
from distillab.fields import help_of
from distillab.provenance.attribution_config import AttributionConfig
from distillab.provenance.membership_config import MembershipConfig
from distillab.provenance.radioactivity_config import RadioactivityConfig

app = typer.Typer(
    help=(
        "Prove distillation: test a suspect model against yours, with calibrated p-values.\n\n"
        "Every command writes OUT/evidence.json and a self-contained OUT/evidence.html that states each\n"
        "test, its assumptions, sample sizes and p-value in plain words.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab prove attribution --suspect http://127.0.0.1:9000/v1 --reference runs/teacher \\\n"
        "      --reference runs/other-model --out runs/attribution\n"
        "  distillab prove radioactivity --suspect runs/suspect --texts runs/plain-answers --unmarked-texts \\\n"
        "      --key-file watermark.key --out runs/radioactivity\n"
        "  distillab prove membership --suspect runs/suspect --served served.jsonl --alternatives runs/fresh \\\n"
        "      --out runs/membership\n"
        "  distillab prove report runs/attribution runs/radioactivity runs/membership --out runs/evidence"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

ATTRIBUTION_HELP = """Test whether the suspect's outputs are closer to a teacher's than chance allows.

The suspect and every --reference (model directories or OpenAI-compatible URLs) complete the same
prompts --samples-per-prompt times each. Then, as in Model Equality Testing (Gao, Liang & Guestrin
2024), an MMD two-sample test with a character Hamming kernel asks, for each reference, whether the
suspect serves the same distribution (permutation p-value); and a closeness test asks whether the
suspect is closer to the first reference (the candidate teacher) than to each further one (controls).
A control should be a plausible other origin: a model of similar ability that was not distilled.

Writes OUT/evidence.json, OUT/evidence.html and every sample (OUT/samples/). Rerunning resumes: samples
already stored are not asked again.

Examples:

\b
  distillab prove attribution --suspect http://127.0.0.1:9000/v1 \\
      --reference runs/teacher --reference runs/other-model --out runs/attribution
  distillab prove attribution --suspect runs/student --reference runs/teacher \\
      --prompts prompts.jsonl --samples-per-prompt 20 --out runs/attribution

See docs/prove.md.
"""

REPORT_HELP = """Merge the evidence of several prove commands into one report.

Each RESULT is a prove command's output directory or its evidence.json. Writes OUT/evidence.json and
OUT/evidence.html with every test of every RESULT, in order.

Examples:

\b
  distillab prove report runs/attribution runs/radioactivity --out runs/evidence
"""


def _opt(name: str, *flags: str) -> object:
    return option(AttributionConfig, name, *flags)


@app.command("attribution", help=ATTRIBUTION_HELP)
def attribution(
    suspect: str = typer.Option(..., "--suspect", help=help_of(AttributionConfig, "suspect")),
    reference: list[str] = typer.Option(..., "--reference", help=help_of(AttributionConfig, "references")),
    out: Path = typer.Option(..., "--out", help=help_of(AttributionConfig, "out")),
    prompts: Path | None = _opt("prompts", "--prompts"),  # type: ignore[assignment]
    samples_per_prompt: int = _opt("samples_per_prompt", "--samples-per-prompt"),  # type: ignore[assignment]
    temperature: float = _opt("temperature", "--temperature"),  # type: ignore[assignment]
    max_tokens: int = _opt("max_tokens", "--max-tokens"),  # type: ignore[assignment]
    kernel_chars: int = _opt("kernel_chars", "--kernel-chars"),  # type: ignore[assignment]
    permutations: int = _opt("permutations", "--permutations"),  # type: ignore[assignment]
    alpha: float = _opt("alpha", "--alpha"),  # type: ignore[assignment]
    seed: int = _opt("seed", "--seed"),  # type: ignore[assignment]
    concurrency: int = _opt("concurrency", "--concurrency"),  # type: ignore[assignment]
    api_key_env: str = _opt("api_key_env", "--api-key-env"),  # type: ignore[assignment]
    max_retries: int = _opt("max_retries", "--max-retries"),  # type: ignore[assignment]
    progress: bool = _opt("progress", "--progress/--no-progress"),  # type: ignore[assignment]
) -> None:
    from distillab.provenance.attribution import run_attribution  # keeps `distillab --help` fast

    config = AttributionConfig(
        suspect=suspect,
        references=tuple(reference),
        out=out,
        prompts=prompts,
        samples_per_prompt=samples_per_prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        kernel_chars=kernel_chars,
        permutations=permutations,
        alpha=alpha,
        seed=seed,
        concurrency=concurrency,
        api_key_env=api_key_env,
        max_retries=max_retries,
        progress=progress,
    )
    results = run_attribution(config)
    for result in results:
        outcome = "significant" if result.significant else "not significant"
        print(f"{result.name}: p = {result.p_value:.3g} ({outcome} at {result.alpha:g})")
    print(f"evidence: {out / 'evidence.html'}")


MEMBERSHIP_HELP = """Test whether the suspect was trained on the very answers you served.

Each served answer was one random draw of your model's; sample fresh answers to the same prompts with the
same model and settings (--alternatives, or --teacher to sample them here), and a suspect that never saw the served ones finds them no
more likely than the fresh ones. The suspect (its weights) scores every answer; the number of prompts
where the served answer beats every fresh one gets an exact p-value. No watermark needed, but the fresh
answers must come from the same model, settings and watermark key as the served ones.

Writes OUT/evidence.json and OUT/evidence.html.

Examples:

\b
  distillab logs export --db gateway.db --account acme --out served.jsonl
  distillab prove membership --suspect runs/suspect --served served.jsonl \\
      --teacher http://127.0.0.1:8000/v1 --temperature 1 --max-tokens 256 --out runs/membership
  distillab prove membership --suspect runs/suspect --served runs/served --alternatives runs/fresh \\
      --out runs/membership

See docs/prove.md.
"""


def _mopt(name: str, *flags: str) -> object:
    return option(MembershipConfig, name, *flags)


@app.command("membership", help=MEMBERSHIP_HELP)
def membership(
    suspect: str = typer.Option(..., "--suspect", help=help_of(MembershipConfig, "suspect")),
    served: Path = typer.Option(..., "--served", help=help_of(MembershipConfig, "served")),
    out: Path = typer.Option(..., "--out", help=help_of(MembershipConfig, "out")),
    alternatives: Path | None = _mopt("alternatives", "--alternatives"),  # type: ignore[assignment]
    teacher: str | None = _mopt("teacher", "--teacher"),  # type: ignore[assignment]
    samples: int = _mopt("samples", "--samples"),  # type: ignore[assignment]
    temperature: float | None = _mopt("temperature", "--temperature"),  # type: ignore[assignment]
    max_tokens: int | None = _mopt("max_tokens", "--max-tokens"),  # type: ignore[assignment]
    concurrency: int = _mopt("concurrency", "--concurrency"),  # type: ignore[assignment]
    api_key_env: str = _mopt("api_key_env", "--api-key-env"),  # type: ignore[assignment]
    max_retries: int = _mopt("max_retries", "--max-retries"),  # type: ignore[assignment]
    progress: bool = _mopt("progress", "--progress/--no-progress"),  # type: ignore[assignment]
    batch_size: int = _mopt("batch_size", "--batch-size"),  # type: ignore[assignment]
    max_length: int = _mopt("max_length", "--max-length"),  # type: ignore[assignment]
    device: str = _mopt("device", "--device"),  # type: ignore[assignment]
    alpha: float = _mopt("alpha", "--alpha"),  # type: ignore[assignment]
) -> None:
    from distillab.provenance.membership import run_membership  # keeps `distillab --help` fast

    config = MembershipConfig(
        suspect=suspect,
        served=served,
        alternatives=alternatives,
        teacher=teacher,
        samples=samples,
        temperature=temperature,
        max_tokens=max_tokens,
        out=out,
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        alpha=alpha,
        concurrency=concurrency,
        api_key_env=api_key_env,
        max_retries=max_retries,
        progress=progress,
    )
    result = run_membership(config)
    outcome = "significant" if result.significant else "not significant"
    print(
        f"{result.name}: p = {result.p_value:.3g} ({outcome} at {result.alpha:g}); served answer on top for "
        f"{int(result.statistic)} of {result.sample_sizes['prompts']} prompts "
        f"(chance: {result.effect['share_expected_by_chance']:.0%})"
    )
    print(f"evidence: {out / 'evidence.html'}")


@app.command("report", help=REPORT_HELP)
def report(
    results: list[Path] = typer.Argument(..., help="Prove output directories or evidence.json files."),
    out: Path = typer.Option(..., "--out", help="Where to write the merged evidence.json and evidence.html."),
) -> None:
    from distillab.provenance.report import load_evidence, write_evidence

    merged = [test for path in results for test in load_evidence(path)]
    write_evidence(merged, out)
    print(f"{len(merged)} tests; evidence: {out / 'evidence.html'}")


RADIOACTIVITY_HELP = """Test whether the suspect was trained on text carrying your watermark.

Open mode (--suspect is a model directory): the suspect reads --texts (e.g. watermarked outputs of your
model) under teacher forcing and its own most likely next tokens are scored (with --reference, those
that rose most over a model trained without your text). Closed mode (--suspect is
an OpenAI-compatible URL): the suspect completes prompts (--prompts; default: text prompts from the
Python docs) and its completions are scored with --tokenizer (your model's). Either way each distinct
(context, token) pair is scored once, pairs the suspect could have copied from what it read are skipped,
and the green count gets an exact binomial p-value (Sander et al. 2024).

With --account (or --db: every account of a gateway store), each account's derived key is tested and
Holm-adjusted p-values name the accounts whose watermarked answers the suspect learned from.

Writes OUT/evidence.json and OUT/evidence.html.

Examples:

\b
  distillab prove radioactivity --suspect runs/student --texts runs/marked-harvest \\
      --key-file watermark.key --out runs/radioactivity
  distillab prove radioactivity --suspect runs/student --texts runs/plain-answers --unmarked-texts \\
      --reference runs/base-model --key-file watermark.key --out runs/radioactivity
  distillab prove radioactivity --suspect http://10.0.0.9:8000/v1 --tokenizer runs/teacher \\
      --prompts prompts.jsonl --key-file watermark.key --db gateway.db --out runs/radioactivity

See docs/prove.md.
"""


def _ropt(name: str, *flags: str) -> object:
    return option(RadioactivityConfig, name, *flags)


@app.command("radioactivity", help=RADIOACTIVITY_HELP)
def radioactivity(
    suspect: str = typer.Option(..., "--suspect", help=help_of(RadioactivityConfig, "suspect")),
    out: Path = typer.Option(..., "--out", help=help_of(RadioactivityConfig, "out")),
    key_file: Path | None = _ropt("key_file", "--key-file"),  # type: ignore[assignment]
    account: list[str] = typer.Option([], "--account", help=help_of(RadioactivityConfig, "accounts")),
    db: str | None = _ropt("db", "--db"),  # type: ignore[assignment]
    mode: str = _ropt("mode", "--mode"),  # type: ignore[assignment]
    texts: Path | None = _ropt("texts", "--texts"),  # type: ignore[assignment]
    unmarked_texts: bool = _ropt("unmarked_texts", "--unmarked-texts"),  # type: ignore[assignment]
    top_k: int = _ropt("top_k", "--top-k"),  # type: ignore[assignment]
    reference: Path | None = _ropt("reference", "--reference"),  # type: ignore[assignment]
    candidates: int = _ropt("candidates", "--candidates"),  # type: ignore[assignment]
    filter_texts: Path | None = _ropt("filter_texts", "--filter-texts"),  # type: ignore[assignment]
    prompts: Path | None = _ropt("prompts", "--prompts"),  # type: ignore[assignment]
    tokenizer: Path | None = _ropt("tokenizer", "--tokenizer"),  # type: ignore[assignment]
    samples: int = _ropt("samples", "--samples"),  # type: ignore[assignment]
    temperature: float = _ropt("temperature", "--temperature"),  # type: ignore[assignment]
    max_tokens: int = _ropt("max_tokens", "--max-tokens"),  # type: ignore[assignment]
    scheme: str = _ropt("scheme", "--scheme"),  # type: ignore[assignment]
    context: int = _ropt("context", "--context"),  # type: ignore[assignment]
    gamma: float = _ropt("gamma", "--gamma"),  # type: ignore[assignment]
    batch_size: int = _ropt("batch_size", "--batch-size"),  # type: ignore[assignment]
    max_length: int = _ropt("max_length", "--max-length"),  # type: ignore[assignment]
    device: str = _ropt("device", "--device"),  # type: ignore[assignment]
    alpha: float = _ropt("alpha", "--alpha"),  # type: ignore[assignment]
    concurrency: int = _ropt("concurrency", "--concurrency"),  # type: ignore[assignment]
    api_key_env: str = _ropt("api_key_env", "--api-key-env"),  # type: ignore[assignment]
    max_retries: int = _ropt("max_retries", "--max-retries"),  # type: ignore[assignment]
    progress: bool = _ropt("progress", "--progress/--no-progress"),  # type: ignore[assignment]
) -> None:
    from distillab.provenance.radioactivity import run_radioactivity  # keeps `distillab --help` fast

    config = RadioactivityConfig(
        suspect=suspect,
        out=out,
        key_file=key_file,
        accounts=tuple(account),
        db=db,
        mode=mode,
        texts=texts,
        unmarked_texts=unmarked_texts,
        top_k=top_k,
        reference=reference,
        candidates=candidates,
        filter_texts=filter_texts,
        prompts=prompts,
        tokenizer=tokenizer,
        samples=samples,
        temperature=temperature,
        max_tokens=max_tokens,
        scheme=scheme,
        context=context,
        gamma=gamma,
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        alpha=alpha,
        concurrency=concurrency,
        api_key_env=api_key_env,
        max_retries=max_retries,
        progress=progress,
    )
    for result in run_radioactivity(config):
        outcome = "significant" if result.significant else "not significant"
        scored = result.sample_sizes.get("scored_pairs")
        print(
            f"{result.name}: p = {result.p_value:.3g} ({outcome} at {result.alpha:g})"
            + (
                f", {scored} pairs scored, green share {result.effect['green_fraction']:.3f}"
                if scored is not None
                else ""
            )
        )
    print(f"evidence: {out / 'evidence.html'}")
