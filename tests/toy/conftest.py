"""Toy tests write their build cache into a temporary directory, never into ~/.cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def toy_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.getbasetemp() / "distillab-cache"
    monkeypatch.setenv("DISTILLAB_CACHE", str(root))
    return root / "toy"
