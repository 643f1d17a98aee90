"""Toy tests write their build cache into a temporary directory, never into ~/.cache.

Slow toy tests (a full teacher build, minutes) run only when asked for: `pytest -m slow tests/toy`.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords and "tests/toy/" in item.nodeid.replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def toy_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.getbasetemp() / "distillab-cache"
    monkeypatch.setenv("DISTILLAB_CACHE", str(root))
    return root / "toy"
