"""Settings of `distillab serve`: one typed dataclass that the CLI flags are built from.

Kept free of torch imports: `distillab --help` reads the flag help from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from distillab.errors import ConfigError
from distillab.provenance.config import WatermarkConfig

DTYPE_NAMES = ("float32", "float16", "bfloat16")
ACCOUNT_HEADER = "x-distillab-account"
"""Request header naming the account, set by the gateway for its own local model server (and only there):
with per-account watermark keys, the server marks the answer with that account's key."""


@dataclass
class ServeSettings:
    """How to serve one model. Validated on creation; every problem is reported at once."""

    model: Path = field(metadata={"help": "Hugging Face causal LM directory (model + tokenizer)."})
    host: str = field(default="127.0.0.1", metadata={"help": "Address to bind."})
    port: int = field(default=8000, metadata={"help": "Port to bind (0: any free port)."})
    model_name: str | None = field(
        default=None,
        metadata={"help": "Model id clients send and /v1/models lists (default: the directory name)."},
    )
    max_batch: int = field(
        default=16, metadata={"help": "Most sequences (requests x n) generated together in one batch."}
    )
    batch_window_ms: float = field(
        default=5.0,
        metadata={"help": "How long an idle server waits for more requests to batch with the first."},
    )
    device: str = field(default="auto", metadata={"help": "cpu, cuda, cuda:N, or auto (CUDA when present)."})
    dtype: str = field(
        default="auto",
        metadata={"help": "auto (float32 on CPU, bfloat16 on GPU), float32, float16 or bfloat16."},
    )
    watermark: WatermarkConfig | None = field(
        default=None,
        metadata={"help": "Watermark every sampled token with these settings (None: no watermark)."},
    )
    watermark_key_file: Path | None = field(
        default=None,
        metadata={
            "help": "File holding the watermark master key (default: $DISTILLAB_WATERMARK_KEY). "
            "Giving a key turns watermarking on; make one with `openssl rand -hex 32 > watermark.key`."
        },
    )
    watermark_per_account: bool = field(
        default=False,
        metadata={
            "help": "Mark each account's answers with its own key, derived from the master key, so a "
            "radioactive student points at the accounts that leaked (needs the gateway: --db)."
        },
    )

    def __post_init__(self) -> None:
        self.model = Path(self.model)
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be in 0..65535, got {self.port}")
        if self.max_batch < 1:
            problems.append(f"max_batch must be at least 1, got {self.max_batch}")
        if self.batch_window_ms < 0:
            problems.append(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")
        if self.dtype != "auto" and self.dtype not in DTYPE_NAMES:
            problems.append(f"dtype must be auto or one of {', '.join(DTYPE_NAMES)}, got {self.dtype!r}")
        if self.model_name is not None and not self.model_name.strip():
            problems.append("model_name must not be blank")
        if self.watermark_per_account and self.watermark is None:
            problems.append("watermark_per_account needs a watermark (give a key)")
        if problems:
            raise ConfigError(problems)

    @property
    def served_name(self) -> str:
        return self.model_name or self.model.resolve().name


def help_for(name: str) -> str:
    """The documented help of a settings field (the CLI reuses it for the flag)."""
    return next(str(f.metadata["help"]) for f in fields(ServeSettings) if f.name == name)
