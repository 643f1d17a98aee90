"""`distillab keys create|list|revoke`: the gateway's accounts and API keys, in its store (--db)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help=(
        "Create, list and revoke the gateway's API keys. Keys belong to accounts; an account is created\n"
        "with its first key. Secrets are shown once, at creation; the store keeps only a salted hash.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab keys create --db gateway.db --account acme --org acme-inc --payment-id cus_123\n"
        "  distillab keys list --db gateway.db\n"
        "  distillab keys revoke --db gateway.db 3f9a0c12b4e7\n"
        "  DISTILLAB_DB=postgresql://gw@db-host/gateway distillab keys list --account acme"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
out_console = Console()
console = Console(stderr=True)

DB_HELP = "The gateway store: a SQLite file or a postgresql://user@host/db URL."


DbOption = Annotated[str, typer.Option("--db", envvar="DISTILLAB_DB", help=DB_HELP)]


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


@app.command(
    help=(
        "Create an API key for an account (creating the account, or updating its org and payment id).\n\n"
        "The secret is printed alone on stdout, once; details go to stderr, so scripts can capture it.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab keys create --db gateway.db --account acme --org acme-inc --payment-id cus_123\n"
        "  export OPENAI_API_KEY=$(distillab keys create --db gateway.db --account alice)"
    )
)
def create(
    account: str = typer.Option(..., "--account", help="Account name (created if new)."),
    org: str | None = typer.Option(None, "--org", help="Organisation the account belongs to."),
    payment_id: str | None = typer.Option(
        None, "--payment-id", help="Payment method id, for linking accounts."
    ),
    db: DbOption = "distillab.db",
) -> None:
    from distillab.db.store import Store

    with Store(db) as store:
        info, secret = store.create_key(account, org=org, payment_id=payment_id)
        where = store.url
    console.print(
        f"created key {info.key_id} for account {info.account} in {where}", markup=False, highlight=False
    )
    console.print("This secret will not be shown again; store it now:", markup=False, highlight=False)
    print(secret, flush=True)


@app.command(
    "list",
    help=(
        "List API keys (id, account, org, payment id, created, last 4 characters, status). Never secrets.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab keys list --db gateway.db\n"
        "  distillab keys list --db gateway.db --account acme"
    ),
)
def list_keys(
    account: str | None = typer.Option(None, "--account", help="Only this account's keys."),
    db: DbOption = "distillab.db",
) -> None:
    from rich.table import Table

    from distillab.db.store import Store

    with Store(db, create=False) as store:
        keys = store.list_keys(account)
    table = Table("key id", "account", "org", "payment id", "created (UTC)", "last 4", "status")
    for column in table.columns:  # in a narrow terminal, long names wrap; ids and times stay whole
        column.overflow = "fold"
        column.min_width = 6
    for i in (0, 4, 6):
        table.columns[i].no_wrap = True
    for key in keys:
        table.add_row(
            key.key_id,
            key.account,
            key.org or "",
            key.payment_id or "",
            _when(key.created),
            key.last4,
            "revoked" if key.revoked else "active",
        )
    out_console.print(table)
    console.print(f"{len(keys)} key(s)", markup=False, highlight=False)


@app.command(
    help=(
        "Revoke an API key by its id (the 12 hex characters after `dl-`). Requests with it then get 401.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  distillab keys revoke --db gateway.db 3f9a0c12b4e7"
    )
)
def revoke(
    key_id: str = typer.Argument(..., help="The key's id, as `distillab keys list` shows it."),
    db: DbOption = "distillab.db",
) -> None:
    from distillab.db.store import Store
    from distillab.errors import DataError

    with Store(db, create=False) as store:
        if not store.revoke_key(key_id):
            raise DataError(f"no key {key_id!r} in {store.url}")
    console.print(f"revoked key {key_id}", markup=False, highlight=False)
