"""Reading JSON Lines with errors that point at the line: one helper for every JSONL input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distillab.errors import DataError


def iter_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """``(where, value)`` for each non-blank line; ``where`` is ``file:line``.

    Bad JSON raises ``DataError``.
    """
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
