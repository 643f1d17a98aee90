"""`distillab prompts stdlib|synthesize|filter`: build prompt sets for `distillab generate`."""

from __future__ import annotations

import typer

from distillab.cli.from_config import from_config
from distillab.data.promptgen.config import FilterConfig, StdlibConfig, SynthesizeConfig

app = typer.Typer(
    help=(
        "Build prompt sets: from the standard library's documentation, synthesized by a teacher, "
        "filtered.\n\n"
        "Each command writes OUT/prompts.jsonl (what `distillab generate --prompts` reads; every row says\n"
        "where it came from) and OUT/manifest.json (inputs, counts kept and dropped per filter).\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab prompts stdlib --out runs/prompts/stdlib\n"
        "  distillab prompts synthesize --teacher model.gguf --method magpie --count 200 \\\n"
        "      --out runs/prompts/magpie\n"
        "  distillab prompts filter --prompts runs/prompts/stdlib/prompts.jsonl \\\n"
        "      --prompts runs/prompts/magpie/prompts.jsonl --heldout eval.jsonl --out runs/prompts/all"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

STDLIB_HELP = """Questions about the Python standard library, with each docstring as the reference answer.

For every documented public module, class, function and method ("What does `textwrap.dedent` do?"),
one prompt; its docstring goes in the row's 'answer' field, which `distillab eval --task FILE` reads.
Near-duplicates and prompts near --heldout ones are dropped like in `prompts filter`.

Examples:

\b
  distillab prompts stdlib --out runs/prompts/stdlib
  distillab prompts stdlib --modules textwrap --modules json --limit 50 --out runs/prompts/small
"""

SYNTHESIZE_HELP = """New prompts written by a teacher: Magpie or self-instruct.

magpie: the teacher's chat template up to the start of a user turn is sent as a raw completion
prompt (for an endpoint, to /v1/completions), so the model writes what a user would ask. The prefix
comes from the chat template of the teacher, or of --tokenizer for a URL teacher.
self-instruct: each request shows --examples seed prompts and asks for a new one.

The requests go through the same harvest as `distillab generate` (OUT/harvest/): --rpm, --tpm,
--budget-usd, retries and --terms apply, and rerunning the same command after an interruption resumes
without asking anything twice. Answers cut off by --max-tokens are dropped, the rest filtered.

Examples:

\b
  distillab prompts synthesize --teacher SmolLM2-135M-Instruct.Q4_1.gguf --method magpie \\
      --count 200 --language en --out runs/prompts/magpie
  distillab prompts synthesize --teacher http://127.0.0.1:8000/v1 --tokenizer runs/teacher \\
      --method magpie --count 1000 --rpm 600 --out runs/prompts/magpie
  distillab prompts synthesize --teacher runs/teacher --method self-instruct \\
      --seeds seeds.jsonl --count 500 --heldout eval.jsonl --out runs/prompts/self-instruct
"""

FILTER_HELP = """Filter prompt files into one set: near-duplicates, held-out look-alikes, length, language.

Rows are read in order (files in the order given) and kept first come, first served. 'answer' and
'source' fields are kept; a row without a source gets its file and line.

Examples:

\b
  distillab prompts filter --prompts a.jsonl --prompts b.jsonl --heldout eval.jsonl --out runs/prompts/all
  distillab prompts filter --prompts raw.jsonl --language en --min-chars 20 --similarity 0.6 \\
      --checker mychecks:is_question --out runs/prompts/clean
"""


@app.command("stdlib", help=STDLIB_HELP)
@from_config(StdlibConfig, required=("out",))
def stdlib(config: StdlibConfig) -> None:
    from distillab.data.promptgen.stdlib import run_stdlib

    print(run_stdlib(config).describe())


@app.command("synthesize", help=SYNTHESIZE_HELP)
@from_config(SynthesizeConfig, required=("teacher", "out"))
def synthesize(config: SynthesizeConfig) -> None:
    from distillab.data.promptgen.synthesize import run_synthesis

    result = run_synthesis(config)
    asked = result.harvest.new_records
    rate = f"; {asked} new samples in {result.seconds:.1f}s" if asked else ""
    print(result.describe() + rate)


@app.command("filter", help=FILTER_HELP)
@from_config(FilterConfig, required=("prompts", "out"))
def filter_command(config: FilterConfig) -> None:
    from distillab.data.promptgen.filtering import run_filter

    print(run_filter(config).describe())
