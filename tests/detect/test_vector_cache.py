"""The on-disk cache of prompt vectors: found again by another process, all-or-nothing writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from distillab.detect.vector_cache import VectorCache, cache_dir

TEXTS = ["How do I sort a list?", "Tell me about the moon.", "naïve café ✓"]


def vectors(n: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(n).standard_normal((n, dim)).astype(np.float32)


def test_vectors_come_back_in_a_new_connection(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "m.sqlite", dim=8)
    assert cache.get(TEXTS) == {}
    cache.put(dict(zip(TEXTS[:2], vectors(2))))
    cache.close()
    again = VectorCache(tmp_path / "m.sqlite", dim=8)
    found = again.get(TEXTS)
    assert set(found) == set(TEXTS[:2]) and again.hits == 2
    assert np.array_equal(found[TEXTS[1]], vectors(2)[1])
    # Another model's vectors under the same file name are misses, not errors.
    assert VectorCache(tmp_path / "m.sqlite", dim=4).get(TEXTS) == {}


def test_the_file_keeps_hashes_not_prompts(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "m.sqlite", dim=8)
    cache.put(dict(zip(TEXTS, vectors(3))))
    cache.close()
    raw = (tmp_path / "m.sqlite").read_bytes()
    assert b"sort a list" not in raw and "café".encode() not in raw


def test_the_cache_lives_under_distillab_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLAB_CACHE", str(tmp_path))
    cache = VectorCache.open("model-1", dim=8)
    assert cache.path == tmp_path / "embeddings" / "model-1.sqlite" == cache_dir() / "model-1.sqlite"


def test_a_process_killed_mid_write_leaves_earlier_writes_and_no_part_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from distillab.detect.vector_cache import VectorCache
        cache = VectorCache({str(path)!r}, dim=8)
        cache.put({{"kept": np.ones(8, np.float32)}})
        db = cache._db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO vectors VALUES (?, ?)",
                       [(bytes([i]) * 32, np.zeros(8, np.float32).tobytes()) for i in range(100)])
        os._exit(9)  # killed before the commit
        """
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert done.returncode == 9
    cache = VectorCache(path, dim=8)
    assert set(cache.get(["kept"])) == {"kept"}
    assert cache._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 1
    cache.put({"next": np.zeros(8, np.float32)})  # the file is not left locked or corrupt
    assert set(cache.get(["kept", "next"])) == {"kept", "next"}
