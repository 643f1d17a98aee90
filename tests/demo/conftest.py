"""Demo tests write the tiny world into the session's temporary build cache, never into ~/.cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def demo_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.getbasetemp() / "distillab-cache"
    monkeypatch.setenv("DISTILLAB_CACHE", str(root))
    return root / "toy"
