"""Placeholder: being written."""

HELP = "(being written)"


def demo() -> None:
    raise NotImplementedError
