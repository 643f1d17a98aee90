"""Teachers: a local Hugging Face model directory or an OpenAI-compatible endpoint, behind one protocol."""

from __future__ import annotations

from pathlib import Path

import httpx

from distillab.errors import ConfigError
from distillab.teacher.base import Capabilities, Generation, Sample, SamplingParams, Teacher
from distillab.teacher.http import HTTPTeacher

__all__ = [
    "Capabilities",
    "Generation",
    "HTTPTeacher",
    "Sample",
    "SamplingParams",
    "Teacher",
    "is_gguf_file",
    "is_local_model",
    "is_url",
    "load_teacher",
]


def is_url(path_or_url: str) -> bool:
    return path_or_url.startswith(("http://", "https://"))


def is_gguf_file(path: str | Path) -> bool:
    """A llama.cpp GGUF file: a local teacher like a model directory (converted once, models.load)."""
    return Path(path).suffix.lower() == ".gguf" and Path(path).is_file()


def is_local_model(path: str | Path) -> bool:
    """A model on disk: a Hugging Face model directory or a GGUF file (every command takes either)."""
    return Path(path).is_dir() or is_gguf_file(path)


def load_teacher(
    path_or_url: str | Path,
    *,
    model: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 120.0,
    max_connections: int = 64,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Teacher:
    """An `HTTPTeacher` for an http(s) URL, a `LocalTeacher` for a model directory or a GGUF file.

    `model` is the server-side model id for a URL, and the recorded teacher name for a directory (default:
    the directory's name). The other keyword arguments only concern HTTP teachers.
    """
    text = str(path_or_url)
    if is_url(text):
        return HTTPTeacher(
            text,
            model=model,
            api_key_env=api_key_env,
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
        )
    if is_local_model(text):
        # Imported lazily: it pulls in torch, which HTTP-only harvests never need.
        from distillab.teacher.local import LocalTeacher

        return LocalTeacher.from_pretrained(Path(text), name=model)
    raise ConfigError(
        f"teacher {text!r} is neither an http(s) URL, an existing model directory nor a .gguf file"
    )
