"""Reading a harvest directory for training: its manifest, its records, the signal they hold, the split.

A harvest (``distillab generate``) is ``OUT/manifest.json`` plus ``OUT/data/*.parquet``; see
docs/data-formats.md. Training needs to know one thing the records do not say in one place: which
teacher signal the whole dataset holds, ``text``, ``topk`` or ``sampled`` (ids drawn from a local
teacher, ``distillab generate --draws``; the manifest's identity says so). A harvest never holds full
logits; those come from a local ``--teacher`` at training time.

The eval split is by prompt, not by record: the samples of one prompt are near-duplicates, and letting
them straddle the split would make the eval loss measure memorisation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillab.data.manifest import MANIFEST, read_manifest
from distillab.data.records import data_files, read_records
from distillab.data.signal import COLUMNS as SIGNAL_COLUMNS
from distillab.errors import DataError
from distillab.train.losses import Signal

COLUMNS = [
    "id",
    "prompt_id",
    "messages",
    "prompt",
    "completion",
    "finish_reason",
    *SIGNAL_COLUMNS,
]


@dataclass
class Harvest:
    """A harvest directory loaded for training."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    records: list[dict[str, Any]]
    signal: Signal
    """``sampled`` when records carry drawn ids, ``topk`` when top-k log-probabilities (with ids or token
    strings), else ``text``."""

    @property
    def teacher_name(self) -> str:
        return str(self.manifest.get("teacher", {}).get("name", "unknown teacher"))

    @property
    def teacher_endpoint(self) -> str:
        return str(self.manifest.get("teacher", {}).get("endpoint", ""))

    def describe_teacher(self) -> str:
        """``name (endpoint)``: how error messages name the teacher whose tokenizer the data uses."""
        end = self.teacher_endpoint
        return f"{self.teacher_name} ({end})" if end and end != self.teacher_name else self.teacher_name


def load_harvest(path: Path) -> Harvest:
    """The harvest in ``path``; ``DataError`` naming the path when it is missing, incomplete or empty."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"--data {path}: no such directory (expected a harvest from `distillab generate`)")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        unfinished = (path / ".journal").exists()
        raise DataError(
            f"{manifest_path}: not found; "
            + (
                "the harvest did not finish, rerun `distillab generate` to complete it"
                if unfinished
                else "not a harvest directory"
            )
        )
    if not data_files(path):
        raise DataError(f"{path / 'data'}: no *.parquet record files")
    manifest = read_manifest(path)
    try:
        table = read_records(path, columns=COLUMNS)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path / 'data'}: unreadable records ({exc})") from exc
    records = [r for r in table.to_pylist() if r["completion"] is not None]
    if not records:
        raise DataError(f"{path / 'data'}: the dataset is empty (no records with a completion)")
    for row, record in enumerate(records):
        if record["messages"] is None and record["prompt"] is None:
            raise DataError(
                f"{path / 'data'}: record {row} (id {record['id']}) has neither messages nor prompt"
            )
    return Harvest(
        path,
        manifest,
        hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        records,
        _signal(manifest, records),
    )


def _signal(manifest: dict[str, Any], records: list[dict[str, Any]]) -> Signal:
    mode = manifest.get("teacher", {}).get("capabilities", {}).get("mode")
    if mode == "text":
        return "text"
    if manifest.get("identity", {}).get("signal") == "sampled" or any(r.get("draw_ids") for r in records):
        return "sampled"
    has_topk = any(r["top_logprobs"] and any(r["top_logprobs"]) for r in records)
    return "topk" if has_topk else "text"


def split_by_prompt(keys: list[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of (train, eval) items, given each item's prompt id: ``round(fraction * prompts)`` go to eval.

    Which prompts is decided by a hash of (seed, prompt id), so the split is stable across runs and
    machines and does not depend on record order. At least one prompt is held out when ``fraction > 0``
    and there are two or more prompts.
    """
    prompts = sorted(set(keys), key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    n_eval = round(fraction * len(prompts))
    if fraction > 0 and len(prompts) >= 2:
        n_eval = min(max(n_eval, 1), len(prompts) - 1)
    held = set(prompts[:n_eval])
    train = [i for i, k in enumerate(keys) if k not in held]
    return train, [i for i, k in enumerate(keys) if k in held]
