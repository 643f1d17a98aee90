"""`distillab watermark ...`: detect the keyed green-list watermark in text."""

from __future__ import annotations

from pathlib import Path

import typer

from distillab.cli.from_config import from_config
from distillab.errors import ConfigError
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.evidence import TestResult

app = typer.Typer(
    help=(
        "Watermark: detect the keyed green-list watermark that "
        "`distillab serve --watermark-key-file` adds.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab watermark detect --tokenizer runs/teacher --key-file watermark.key answer.txt\n"
        "  distillab watermark detect --tokenizer runs/teacher --key-file watermark.key runs/harvest"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

DETECT_HELP = """Test whether texts carry the watermark of a key (exact binomial p-value).

Each FILE is a text file (one text), JSONL (harvest records: 'completion'; request logs: 'response'),
Parquet, or a harvest dataset directory. All texts are pooled: every distinct (context, token) pair is
scored once, so repeated text cannot inflate the evidence. The z-score without deduplication (the
original KGW statistic) is shown for comparison only.

The key comes from --key-file or $DISTILLAB_WATERMARK_KEY; with --account, each account's derived key
is tested (Holm-adjusted p-values name the account whose key marked the text). The settings must be the
ones the server used (see `distillab serve --help`).

Examples:

\b
  distillab watermark detect --tokenizer runs/teacher --key-file watermark.key answer.txt
  distillab watermark detect --tokenizer runs/teacher --key-file watermark.key requests.jsonl \\
      --account acme --account globex --out detect.json
  DISTILLAB_WATERMARK_KEY=$(cat watermark.key) distillab watermark detect --tokenizer runs/teacher \\
      --context 2 --gamma 0.5 runs/harvest

See docs/prove.md.
"""


@app.command("detect", help=DETECT_HELP)
@from_config(WatermarkConfig, skip=("delta",))  # delta: only serving uses it
def detect(
    files: list[Path] = typer.Argument(..., help="Text, JSONL or Parquet files, or harvest directories."),
    tokenizer: Path = typer.Option(
        ..., "--tokenizer", help="The watermarked model's directory (its tokenizer)."
    ),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="File with the watermark master key (default: $DISTILLAB_WATERMARK_KEY)."
    ),
    account: list[str] = typer.Option(
        [], "--account", help="Test this account's derived key (repeat the flag)."
    ),
    *,
    config: WatermarkConfig,
    out: Path | None = typer.Option(None, "--out", help="Write the results as evidence JSON to this file."),
) -> None:
    if not tokenizer.is_dir():
        raise ConfigError(f"--tokenizer {tokenizer}: not a directory")
    from distillab.provenance.detect_files import detect_files

    results = detect_files(files, tokenizer, config, key_file=key_file, accounts=account, out=out)
    print_results(results)
    if out is not None:
        print(f"wrote {out}")


def print_results(results: list[TestResult]) -> None:
    """One row per key: what was scored, the green share, both z-scores and the exact p-value."""
    from rich.console import Console
    from rich.table import Table

    table = Table("key", "texts", "tokens", "pairs", "green", "share", "z", "z (no dedup)", "p", "p (Holm)")
    for r in results:
        sizes, effect = r.sample_sizes, r.effect
        holm = r.details.get("p_holm")
        table.add_row(
            r.details.get("account") or r.details.get("key_id") or "?",
            str(sizes.get("texts", "")),
            str(sizes.get("tokens", "")),
            str(sizes["scored_pairs"]),
            str(sizes["green_pairs"]),
            f"{effect['green_fraction']:.3f}",
            f"{effect['z']:.2f}",
            f"{effect['z_no_dedup']:.2f}",
            f"{r.p_value:.3g}",
            "" if holm is None else f"{holm:.3g}",
        )
    Console().print(table)
    for r in results:
        print(r.verdict())
