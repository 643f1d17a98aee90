"""The prove commands take a model as every other command does: a model directory or a GGUF file."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillab.errors import ConfigError
from distillab.provenance.attribution_config import AttributionConfig
from distillab.provenance.membership_config import MembershipConfig
from distillab.provenance.radioactivity_config import RadioactivityConfig


def test_a_gguf_file_is_a_model_and_a_missing_one_is_named(tmp_path: Path) -> None:
    gguf = tmp_path / "teacher.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")  # loading is models.load's business (tests/models); this is the flag check
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"text": "a"}\n')
    out = tmp_path / "out"
    RadioactivityConfig(suspect=str(gguf), texts=texts, reference=gguf, out=out)
    RadioactivityConfig(suspect="http://127.0.0.1:9/v1", tokenizer=gguf, out=out)
    MembershipConfig(suspect=str(gguf), served=texts, alternatives=texts, out=out)
    AttributionConfig(suspect=str(gguf), references=(str(tmp_path),), out=out)
    missing = tmp_path / "gone.gguf"
    with pytest.raises(ConfigError, match=f"--reference {missing}: not a model directory or GGUF file"):
        RadioactivityConfig(suspect=str(gguf), texts=texts, reference=missing, out=out)
    with pytest.raises(ConfigError, match="--tokenizer .*not a model directory or GGUF file"):
        RadioactivityConfig(suspect="http://127.0.0.1:9/v1", tokenizer=texts, out=out)
    with pytest.raises(ConfigError, match="--suspect .*not a model directory or GGUF file"):
        MembershipConfig(suspect=str(missing), served=texts, alternatives=texts, out=out)
    with pytest.raises(ConfigError, match="neither an http\\(s\\) URL nor a model directory or GGUF file"):
        AttributionConfig(suspect=str(missing), references=(str(gguf),), out=out)
