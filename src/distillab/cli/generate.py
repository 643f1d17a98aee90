"""Placeholder: being written."""

HELP = "(being written)"


def generate() -> None:
    raise NotImplementedError
