"""`distillab prove ...`: statistical evidence that a suspect model was distilled from yours."""

from __future__ import annotations

from pathlib import Path

import typer

from distillab.cli.from_config import from_config
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
        "  distillab prove radioactivity --suspect runs/suspect --texts runs/plain-answers \\\n"
        "      --unmarked-texts --key-file watermark.key --out runs/radioactivity\n"
        "  distillab prove membership --suspect runs/suspect --served served.jsonl \\\n"
        "      --alternatives runs/fresh --out runs/membership\n"
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


@app.command("attribution", help=ATTRIBUTION_HELP)
@from_config(
    AttributionConfig, required=("suspect", "references", "out"), flags={"references": "--reference"}
)
def attribution(config: AttributionConfig) -> None:
    from distillab.provenance.attribution import run_attribution  # keeps `distillab --help` fast

    results = run_attribution(config)
    for result in results:
        outcome = "significant" if result.significant else "not significant"
        print(f"{result.name}: p = {result.p_value:.3g} ({outcome} at {result.alpha:g})")
    print(f"evidence: {config.out / 'evidence.html'}")


MEMBERSHIP_HELP = """Test whether the suspect was trained on the very answers you served.

Each served answer was one random draw of your model's; sample fresh answers to the same prompts with the
same model and settings (--alternatives, or --teacher to sample them here), and a suspect that never
saw the served ones finds them no more likely than the fresh ones. The suspect (its weights) scores
every answer; the number of prompts where the served answer beats every fresh one gets an exact
p-value. No watermark needed, but the fresh answers must come from the same model, settings and
watermark key as the served ones.

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


@app.command("membership", help=MEMBERSHIP_HELP)
@from_config(MembershipConfig, required=("suspect", "served", "out"))
def membership(config: MembershipConfig) -> None:
    from distillab.provenance.membership import run_membership  # keeps `distillab --help` fast

    result = run_membership(config)
    outcome = "significant" if result.significant else "not significant"
    print(
        f"{result.name}: p = {result.p_value:.3g} ({outcome} at {result.alpha:g}); served answer on top for "
        f"{int(result.statistic)} of {result.sample_sizes['prompts']} prompts "
        f"(chance: {result.effect['share_expected_by_chance']:.0%})"
    )
    print(f"evidence: {config.out / 'evidence.html'}")


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


@app.command("radioactivity", help=RADIOACTIVITY_HELP)
@from_config(RadioactivityConfig, required=("suspect", "out"), flags={"accounts": "--account"})
def radioactivity(config: RadioactivityConfig) -> None:
    from distillab.provenance.radioactivity import run_radioactivity  # keeps `distillab --help` fast

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
    print(f"evidence: {config.out / 'evidence.html'}")
