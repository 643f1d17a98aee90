"""`distillab indicators export`: flagged campaigns as a privacy-preserving indicator file to share."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help=(
        "Share flagged distillation campaigns with another provider, "
        "without prompts, accounts or addresses.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  openssl rand -hex 32 > sharing.key        # agreed with the other provider, sent out of band\n"
        "  distillab detect --log requests.parquet --reference honest.parquet --out runs/detect\n"
        "  distillab indicators export --detect-out runs/detect --log requests.parquet \\\n"
        "      --key-file sharing.key --out campaigns.indicators.json\n"
        "  distillab serve --upstream URL --db gw.db --indicators campaigns.indicators.json \\\n"
        "      --indicator-key-file sharing.key --detect-action throttle       # at the other provider"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command(
    help=(
        "Write an indicator file for every campaign a `distillab detect` run flagged (a linked group, or an "
        "account flagged on its own traffic), or every campaign in a labels file (account, label; e.g. the "
        "campaigns an analyst confirmed): keyed MinHash signatures of its prompt templates (templates "
        "that unflagged accounts also send are left out), keyed hashes of its network prefixes and user "
        "agents, and its behaviour profile. Every hash is keyed with the sharing key: an unkeyed hash of an "
        "IPv4 /24 is reversed by hashing all 2^24 of them. See docs/data-formats.md.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab indicators export --detect-out runs/detect --log requests.parquet \\\n"
        "      --key-file sharing.key --out campaigns.indicators.json\n"
        "  distillab indicators export --labels confirmed.labels.jsonl --log gateway.db \\\n"
        "      --key-file sharing.key --out confirmed.indicators.json"
    )
)
def export(
    detect_out: Path | None = typer.Option(
        None, "--detect-out", help="Output directory of `distillab detect`."
    ),
    labels: Path | None = typer.Option(
        None,
        "--labels",
        help="Or: a labels file (.jsonl or .csv: account, "
        "label = 'benign' or a campaign id); one indicator per campaign id.",
    ),
    log: str = typer.Option(
        ..., "--log", help="The request log that run scored (its prompts are read again)."
    ),
    key_file: Path = typer.Option(..., "--key-file", help="File with the sharing key (at least 16 bytes)."),
    out: Path = typer.Option(..., "--out", help="Indicator file to write (JSON)."),
) -> None:
    from distillab.detect.indicator_export import export_indicators, flagged_campaigns, labelled_campaigns
    from distillab.detect.indicators import read_key
    from distillab.errors import ConfigError

    if (detect_out is None) == (labels is None):
        raise ConfigError("give exactly one of --detect-out (what `distillab detect` flagged) or --labels")
    key = read_key(key_file)
    if detect_out is not None:
        campaigns = flagged_campaigns(detect_out)
    else:
        assert labels is not None  # exactly one of them, checked above
        campaigns = labelled_campaigns(labels)
    done = export_indicators(campaigns, log, key, out)
    print(
        f"{done.campaigns} campaigns, {done.templates} templates ({done.templates_dropped_as_honest} "
        f"dropped as also sent by unflagged accounts) -> {done.out}"
    )
