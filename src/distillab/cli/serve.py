"""Placeholder: being written."""

HELP = "(being written)"


def serve() -> None:
    raise NotImplementedError
