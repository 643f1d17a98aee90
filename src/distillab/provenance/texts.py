"""Reading the texts to test: plain text, JSONL (harvest records or request logs), Parquet, or a harvest
dataset.

    texts = read_texts(Path("runs/harvest"))         # the `completion` of every record
    texts = read_texts(Path("requests.jsonl"))        # the `response` of every logged request

The text field of a row is the first present of `completion` (harvest records), `response` (request
logs) and `text`. Rows whose field is null (refused requests) are skipped; a row with none of the
fields, or a non-string one, is an error naming the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillab.errors import DataError
from distillab.jsonl import iter_jsonl

FIELDS = ("completion", "response", "text")


def _field(row: Any, where: str) -> str | None:
    if not isinstance(row, dict):
        raise DataError(
            f"{where}: expected an object with one of {', '.join(FIELDS)}, got {type(row).__name__}"
        )
    name = next((f for f in FIELDS if f in row), None)
    if name is None:
        raise DataError(f"{where}: no text field; expected one of {', '.join(FIELDS)}")
    value = row[name]
    if value is not None and not isinstance(value, str):
        raise DataError(f"{where}: '{name}' must be a string, got {type(value).__name__}")
    return value


def _parquet(files: list[Path]) -> list[str]:
    import pyarrow.parquet as pq

    texts: list[str] = []
    for file in files:
        try:
            table = pq.read_table(file)
        except (OSError, ValueError) as exc:
            raise DataError(f"{file}: not a readable Parquet file ({exc})") from exc
        name = next((f for f in FIELDS if f in table.column_names), None)
        if name is None:
            raise DataError(
                f"{file}: no text column; expected one of {', '.join(FIELDS)}, has {table.column_names}"
            )
        texts += [t for t in table.column(name).to_pylist() if t is not None]
    return texts


def read_texts(path: Path) -> list[str]:
    """Every text in `path` (see the module docstring); DataError naming the file and line on bad input."""
    path = Path(path)
    if path.is_dir():
        files = sorted((path / "data").glob("*.parquet"))
        if not files:
            raise DataError(f"{path}: a directory, but not a harvest dataset (no data/*.parquet)")
        return _parquet(files)
    if not path.is_file():
        raise DataError(f"{path}: not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet([path])
    try:
        if suffix in (".jsonl", ".ndjson"):
            return [t for where, row in iter_jsonl(path) if (t := _field(row, where)) is not None]
        return [path.read_text(encoding="utf-8")]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
