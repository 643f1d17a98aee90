"""The toy build cache: a second build is instant, a failed or killed build leaves no entry."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distillab.errors import ConfigError
from distillab.toy.cache import cache_key, cache_root, cached_build, copy_entry, sweep_stale


def _writer(calls: list[int]):
    def build(tmp: Path) -> None:
        calls.append(1)
        (tmp / "weights.bin").write_bytes(b"\x01" * 100)

    return build


def test_cache_root_follows_env(toy_cache: Path) -> None:
    assert cache_root() == toy_cache


def test_second_build_is_served_from_cache(tmp_path: Path) -> None:
    calls: list[int] = []
    first = cached_build("thing", {"a": 1}, _writer(calls), root=tmp_path)
    second = cached_build("thing", {"a": 1}, _writer(calls), root=tmp_path)
    assert first == second and calls == [1]
    assert (first / "weights.bin").read_bytes() == b"\x01" * 100
    other = cached_build("thing", {"a": 2}, _writer(calls), root=tmp_path)
    assert other != first and calls == [1, 1]
    cached_build("thing", {"a": 1}, _writer(calls), root=tmp_path, force=True)
    assert calls == [1, 1, 1]


def test_key_depends_on_request() -> None:
    assert cache_key({"a": 1, "b": 2}) == cache_key({"b": 2, "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(tmp: Path) -> None:
        (tmp / "half.bin").write_bytes(b"x")
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-build

    with pytest.raises(KeyboardInterrupt):
        cached_build("thing", {"a": 1}, build, root=tmp_path)
    assert list(tmp_path.iterdir()) == []
    calls: list[int] = []
    cached_build("thing", {"a": 1}, _writer(calls), root=tmp_path)
    assert calls == [1]


def test_killed_build_directory_is_swept(tmp_path: Path) -> None:
    dead_pid = 2**22 + 12345  # above the default pid_max, so no process has it
    stale = tmp_path / f".tmp-thing-abc-{dead_pid}-deadbeef"
    stale.mkdir()
    live = tmp_path / f".tmp-thing-abc-{os.getpid()}-cafecafe"
    live.mkdir()
    sweep_stale(tmp_path)
    assert not stale.exists() and live.exists()


def test_copy_entry_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    entry = cached_build("thing", {"a": 1}, _writer([]), root=tmp_path / "cache")
    out = tmp_path / "out"
    copy_entry(entry, out)
    assert (out / "weights.bin").exists()
    with pytest.raises(ConfigError, match="--force"):
        copy_entry(entry, out)
    copy_entry(entry, out, force=True)
