"""Typer options built from documented config fields (see `distillab.fields`)."""

from __future__ import annotations

import typer

from distillab.fields import default_of, help_of


def option(cls: type, name: str, *flags: str) -> object:
    """A typer option for field ``name`` of config dataclass ``cls``: its default and its help."""
    return typer.Option(default_of(cls, name), *flags, help=help_of(cls, name), show_default=True)
