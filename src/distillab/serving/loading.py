"""Loading a Hugging Face causal LM directory, with errors that say which path and what is wrong."""

from __future__ import annotations

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


def load_model(
    path: str | Path, *, device: str = "auto", dtype: str = "auto"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model (in eval mode, on `device`) and tokenizer from a `save_pretrained` directory."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"model directory {path} does not exist")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} has no config.json: not a Hugging Face model directory")
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # transformers raises many types (OSError, ValueError, KeyError, ...)
        raise ModelError(f"cannot load a tokenizer from {path}: {exc}") from exc
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    except ValueError as exc:
        raise ModelError(f"{path} is not a causal language model: {exc}") from exc
    except Exception as exc:
        raise ModelError(f"cannot load the model in {path}: {exc}") from exc
    model.to(torch_device)  # type: ignore[arg-type]  # transformers' typing of .to is narrower than torch's
    return model.eval(), tokenizer
