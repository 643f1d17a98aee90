"""`distillab logs export`: the gateway's request log as JSONL or Parquet, for `distillab detect`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    help=(
        "Read the gateway's request log.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab logs export --db gateway.db --out requests.parquet\n"
        "  distillab logs export --db gateway.db --out acme.jsonl --account acme"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(stderr=True)


@app.command(
    help=(
        "Export the request log (one record per request, oldest first) to a .jsonl or .parquet file.\n\n"
        "JSONL keeps messages, prompt and params as nested JSON; Parquet stores them as JSON text columns.\n"
        "Both load with datasets.load_dataset. "
        "The file is replaced atomically: readers never see half of it.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab logs export --db gateway.db --out requests.parquet\n"
        "  distillab logs export --db gateway.db --out acme.jsonl --account acme\n"
        "  distillab logs export --db postgresql://gw@db-host/gateway --out requests.parquet"
    )
)
def export(
    out: Path = typer.Option(..., "--out", help="Output file: .jsonl or .parquet."),
    account: str | None = typer.Option(None, "--account", help="Only this account's requests."),
    db: str = typer.Option(
        "distillab.db",
        "--db",
        envvar="DISTILLAB_DB",
        help="The gateway store: a SQLite file or a postgresql://user@host/db URL.",
    ),
) -> None:
    from distillab.db.store import Store
    from distillab.gateway.export import export_logs

    with Store(db, create=False) as store:
        count = export_logs(store, out, account=account)
    console.print(f"exported {count} request(s) to {out}", markup=False, highlight=False)
