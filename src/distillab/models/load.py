"""Loading a causal LM: a Hugging Face model directory or a GGUF file, with errors that name the path.

    model, tokenizer = load_model("runs/teacher")                         # a save_pretrained directory
    model, tokenizer = load_model("SmolLM2-135M-Instruct.Q4_1.gguf")      # llama.cpp's format

A GGUF file is converted once (transformers dequantizes it through `gguf_file=`) into a Hugging Face
directory under `$DISTILLAB_CACHE/gguf/` keyed by the file's sha256, because reading GGUF on every load
is several times slower than reading safetensors. The conversion is built in a private directory and
renamed into place, so a killed conversion leaves nothing half-written. Every other command then takes
the GGUF path or the converted directory alike.

A file that is not GGUF, or is cut short (a download that stopped), is refused before transformers
reads it, from its header alone (`check_gguf`); one transformers cannot read (an architecture it does
not support) is refused with transformers' reason. Either way the error names the file and nothing is
left in the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import uuid
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from distillab.errors import ModelError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str) -> torch.device:
    """ "auto" picks CUDA when present, else CPU; anything else is passed to torch (cpu, cuda, cuda:1)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ModelError(
            f"--device {device!r} is not a torch device (use cpu, cuda, cuda:N or auto)"
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"--device {device!r} asked for CUDA but no CUDA device is available")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """ "auto": float32 on CPU (half precision is slow there), bfloat16 on GPU."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ModelError(f"--dtype {dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


def gguf_cache_root() -> Path:
    """Where converted GGUF files live: `$DISTILLAB_CACHE/gguf`, default `~/.cache/distillab/gguf`."""
    base = os.environ.get("DISTILLAB_CACHE") or Path.home() / ".cache" / "distillab"
    return Path(base).expanduser() / "gguf"


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check_gguf(path: Path) -> str:
    """The architecture GGUF file `path` declares, once its header shows it is a whole GGUF file.

    Reads only the header and tensor table (transformers' own GGUF reader, milliseconds): a file that is
    not GGUF, is truncated, or holds a tensor type transformers cannot dequantize is a `ModelError`
    naming the file, before any conversion starts."""
    from transformers.integrations.gguf import GgufHeader

    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF file: it starts with {magic!r}, a GGUF file with b'GGUF'")
    try:
        header = GgufHeader.from_file(str(path))
    except struct.error as exc:
        raise ModelError(
            f"{path} is truncated or corrupt: its header runs past the end of the file ({size:,} bytes)"
        ) from exc
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read GGUF file {path}: {exc}") from exc
    end = header.data_start + max((t.offset + t.nbytes for t in header.tensors), default=0)
    if end > size:
        raise ModelError(
            f"{path} is truncated: its tensors need {end:,} bytes but the file has {size:,} "
            f"({size / end:.0%}); fetch it again"
        )
    return header.architecture


def convert_gguf(path: str | Path, *, root: Path | None = None) -> Path:
    """The Hugging Face directory converted from GGUF file `path` (converting it on first use)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"GGUF file {path} does not exist")
    root = root or gguf_cache_root()
    entry = root / f"{path.stem}-{file_sha256(path)[:16]}"
    if (entry / "config.json").is_file():
        return entry
    architecture = check_gguf(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except ImportError as exc:
        raise ModelError(f"{path}: reading GGUF needs the gguf package (pip install gguf): {exc}") from exc
    except Exception as exc:  # transformers raises many types for a file it cannot read
        raise ModelError(f"cannot read GGUF file {path} (architecture {architecture!r}): {exc}") from exc
    # transformers dequantizes GGUF weights to float32 on load but still marks the model as quantized,
    # which save_pretrained refuses; the weights in memory are plain tensors, so drop the marker.
    model.hf_quantizer = None  # type: ignore[assignment]  # typed as a module attribute; None is its unset value
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{entry.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        try:
            tmp.rename(entry)
        except OSError:
            if not (entry / "config.json").is_file():
                raise
            # another process converted the same file first; its entry is as good as ours
    except OSError as exc:
        raise ModelError(f"cannot write the conversion of {path} to {entry}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def model_dir(path: str | Path) -> Path:
    """A Hugging Face model directory for `path`: the directory itself, or a GGUF file's converted copy."""
    path = Path(path)
    if path.suffix.lower() == ".gguf":
        return convert_gguf(path)
    if not path.is_dir():
        raise ModelError(f"model directory {path} does not exist")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} has no config.json: not a Hugging Face model directory")
    return path


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer of a model directory or GGUF file."""
    path = model_dir(path)
    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # transformers raises many types (OSError, ValueError, KeyError, ...)
        raise ModelError(f"cannot load a tokenizer from {path}: {exc}") from exc


def load_model(
    path: str | Path, *, device: str = "auto", dtype: str = "auto"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model (in eval mode, on `device`) and tokenizer from a `save_pretrained` directory or a GGUF file."""
    path = model_dir(path)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    tokenizer = load_tokenizer(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    except ValueError as exc:
        raise ModelError(f"{path} is not a causal language model: {exc}") from exc
    except Exception as exc:
        raise ModelError(f"cannot load the model in {path}: {exc}") from exc
    model.to(torch_device)  # type: ignore[arg-type]  # transformers' typing of .to is narrower than torch's
    return model.eval(), tokenizer
