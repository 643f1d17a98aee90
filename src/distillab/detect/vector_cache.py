"""Prompt vectors kept on disk, so that a rerun, a second log or another process does not embed again.

    cache = VectorCache.open("minilm-0.1.0-128", dim=384)   # $DISTILLAB_CACHE/embeddings/<id>.sqlite
    found = cache.get(["How do I sort a list?", ...])       # {text: vector} for those already embedded
    cache.put({"How do I sort a list?": vector, ...})        # one transaction

Entries are keyed by the sha256 of the prompt's UTF-8 text, in one SQLite file per embedder id (the id
names the model and everything that changes its vectors), under `$DISTILLAB_CACHE/embeddings/`
(default `~/.cache/distillab/embeddings/`). The file holds hashes and vectors, not prompts. SQLite makes
it safe to share and to kill: each `put` is one transaction, so a process killed mid-write leaves the
entries of earlier puts and none of the interrupted one, and concurrent processes wait for each
other's writes (up to `TIMEOUT` seconds) instead of corrupting the file. A vector of the wrong length
(another model's file under the same name) is a miss, not an error.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

TIMEOUT = 60.0
"""Seconds a process waits for another one's write before giving up."""
CHUNK = 500
"""Keys per lookup query (SQLite's parameter limit is 999 on old builds)."""


def cache_dir() -> Path:
    """`$DISTILLAB_CACHE/embeddings`, default `~/.cache/distillab/embeddings`."""
    base = os.environ.get("DISTILLAB_CACHE") or Path.home() / ".cache" / "distillab"
    return Path(base) / "embeddings"


def key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class VectorCache:
    """float32 vectors of one embedder, by sha256 of the text, in one SQLite file."""

    def __init__(self, path: Path | str, dim: int):
        self.path = path = Path(path)
        self.dim = dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=TIMEOUT, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        self.hits = 0
        self.stored = 0

    @classmethod
    def open(cls, embedder_id: str, dim: int) -> VectorCache:
        return cls(cache_dir() / f"{embedder_id}.sqlite", dim)

    def get(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vector of each text that has one."""
        by_key = {key(t): t for t in texts}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            for k, blob in rows:
                vector = np.frombuffer(blob, np.float32)
                if len(vector) == self.dim:
                    found[by_key[k]] = vector
        self.hits += len(found)
        return found

    def put(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Store vectors, all or none (one transaction)."""
        if not vectors:
            return
        rows = [(key(t), np.asarray(v, np.float32).tobytes()) for t, v in vectors.items()]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows)
        self.stored += len(rows)

    def close(self) -> None:
        self._db.close()
