"""Documented dataclass fields: each config option carries its help text, so CLI flags and config files
come from the same definition and cannot drift."""

from __future__ import annotations

from dataclasses import field, fields
from typing import Any


def documented(default: Any, help: str) -> Any:
    """A dataclass field with a default and the help text the CLI shows for it."""
    return field(default=default, metadata={"help": help})


def help_of(cls: type, name: str) -> str:
    """The help text of field ``name`` of dataclass ``cls``."""
    return str({f.name: f.metadata["help"] for f in fields(cls)}[name])


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls``."""
    return {f.name: f.default for f in fields(cls)}[name]


class Problems(list[str]):
    """Every invalid value of a config, collected so that all are reported together:

    p = Problems()
    p.need(self.n >= 1, f"--n must be >= 1 (got {self.n})")
    return p                          # a list of messages; empty when all is well
    """

    def need(self, ok: bool, message: str) -> None:
        """Keep `message` unless `ok`."""
        if not ok:
            self.append(message)
