"""`RadioactivityConfig`: every option of `distillab prove radioactivity`, documented and validated
in one place.

Kept free of torch, numpy and scipy so the CLI can build its flags from it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillab.errors import ConfigError
from distillab.fields import Problems
from distillab.fields import documented as _f
from distillab.provenance.config import WatermarkConfig
from distillab.teacher import is_local_model, is_url

MODES = ("auto", "open", "closed")
DEFAULT_PROMPTS = 200
"""Closed mode's default prompt set: paragraph continuations from the Python docs (the tiny world's text
task)."""


@dataclass
class RadioactivityConfig:
    """Which suspect to test for which watermark keys, how, and where to write the evidence."""

    suspect: str = _f(
        "",
        "The suspect model: a model directory or GGUF file (open mode reads its predictions) or an "
        "OpenAI-compatible base URL (closed mode samples it).",
    )
    out: Path = _f(Path(), "Output directory: evidence.json, evidence.html (and closed mode's samples).")
    key_file: Path | None = _f(
        None, "File with the watermark master key (default: $DISTILLAB_WATERMARK_KEY)."
    )
    accounts: tuple[str, ...] = _f(
        (), "Test the per-account key of this account (repeat the flag); default: the server's default key."
    )
    db: str | None = _f(
        None,
        "Test the per-account key of every account in this gateway store (SQLite file or postgresql:// URL).",
    )
    mode: str = _f(
        "auto",
        "open (read the suspect's own predictions: needs its weights), closed (sample it) or "
        "auto (open for a model on disk, closed for a URL).",
    )
    texts: Path | None = _f(
        None,
        "Open mode: texts the suspect reads (harvest directory, JSONL, Parquet or a text "
        "file), e.g. watermarked outputs of your model.",
    )
    unmarked_texts: bool = _f(
        False,
        "Open mode: --texts carry none of the tested keys' watermarks (e.g. your "
        "model's answers with the watermark off, or human text), so the suspect's "
        "predictions that occur in them are scored too: more pairs, still exact. "
        "Refused when the texts show a tested key (p < 0.001).",
    )
    top_k: int = _f(
        1,
        "Open mode: score the suspect's k most likely next tokens at each position, not only the "
        "first (more pairs from the same text, each with a weaker signal).",
    )
    reference: Path | None = _f(
        None,
        "Open mode: a model trained without your marked text (the suspect's base "
        "model, or one you trained on unmarked text) with the suspect's tokenizer. "
        "Scores the tokens whose probability rose most in the suspect over the "
        "reference: what any model predicts cancels out, so the mark stands out "
        "more. Still exact.",
    )
    candidates: int = _f(
        20,
        "Open mode with --reference: how many of the suspect's most likely tokens at each "
        "position are compared with the reference.",
    )
    filter_texts: Path | None = _f(
        None,
        "Score only contexts that occur in these watermarked texts (e.g. what "
        "a leaking account received); their own pairs are never scored.",
    )
    prompts: Path | None = _f(
        None,
        "Closed mode: prompt file (.jsonl, .csv, .parquet). Default: "
        f"{DEFAULT_PROMPTS} paragraph-continuation prompts from the Python docs.",
    )
    tokenizer: Path | None = _f(
        None,
        "Tokenizer of the watermarked model (a model or tokenizer directory, or a GGUF file). "
        "Closed mode needs it; open mode checks the suspect uses the same one.",
    )
    samples: int = _f(4, "Closed mode: completions per prompt.")
    temperature: float = _f(
        1.0, "Closed mode: sampling temperature (> 0; more diverse text scores more pairs)."
    )
    max_tokens: int = _f(256, "Closed mode: most tokens per completion.")
    scheme: str = _f("lefthash", "Watermark scheme the text was marked with (lefthash or selfhash).")
    context: int = _f(1, "Watermark context width h the text was marked with.")
    gamma: float = _f(0.25, "Watermark green fraction the text was marked with.")
    batch_size: int = _f(8, "Open mode: sequences per forward pass.")
    max_length: int = _f(512, "Open mode: tokens per forward pass (longer texts are cut).")
    device: str = _f("auto", "Open mode: cpu, cuda, cuda:N or auto.")
    alpha: float = _f(0.05, "Significance level the verdicts use.")
    concurrency: int = _f(8, "Closed mode: requests in flight at once.")
    api_key_env: str = _f(
        "OPENAI_API_KEY", "Closed mode: environment variable holding the suspect's API key."
    )
    max_retries: int = _f(6, "Closed mode: retries after 429, 5xx, timeouts or connection errors.")
    timeout: float = _f(120.0, "Closed mode: seconds to wait for one answer before retrying.")
    progress: bool = _f(True, "Show progress.")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        for name in ("key_file", "texts", "filter_texts", "prompts", "tokenizer", "reference"):
            value = getattr(self, name)
            setattr(self, name, None if value is None else Path(value))
        self.accounts = tuple(self.accounts)
        problems = self.problems()
        if problems:
            raise ConfigError(problems)

    @property
    def watermark(self) -> WatermarkConfig:
        return WatermarkConfig(scheme=self.scheme, context=self.context, gamma=self.gamma)

    @property
    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "closed" if is_url(self.suspect) else "open"

    def problems(self) -> list[str]:
        """Every invalid value, each naming its flag."""
        p = Problems()
        need = p.need

        need(bool(self.suspect), "--suspect is required (a model directory or a base URL)")
        need(self.mode in MODES, f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.suspect and self.mode in MODES:
            mode = self.resolved_mode
            need(
                mode == "closed" or not is_url(self.suspect),
                "--mode open needs the suspect's weights (a model directory), not a URL",
            )
            need(
                mode == "closed" or is_url(self.suspect) or is_local_model(self.suspect),
                f"--suspect {self.suspect}: not a model directory, GGUF file or http(s) URL",
            )
            need(
                mode != "open" or self.texts is not None,
                "--texts is required in open mode "
                "(the texts the suspect reads, e.g. your watermarked outputs)",
            )
            need(
                mode != "closed" or self.tokenizer is not None,
                "--tokenizer is required in closed mode (the watermarked model's tokenizer directory)",
            )
            need(
                mode == "open" or self.reference is None,
                "--reference is for open mode "
                "(it compares the suspect's own probabilities with the reference's)",
            )
        need(
            self.reference is None or is_local_model(self.reference),
            f"--reference {self.reference}: not a model directory or GGUF file",
        )
        need(
            self.top_k <= self.candidates <= 1000,
            f"--candidates must be in --top-k..1000, got {self.candidates}",
        )
        for name in ("texts", "filter_texts", "prompts", "key_file"):
            value = getattr(self, name)
            need(value is None or value.exists(), f"--{name.replace('_', '-')} {value}: not found")
        need(
            self.tokenizer is None or is_local_model(self.tokenizer),
            f"--tokenizer {self.tokenizer}: not a model directory or GGUF file",
        )
        need(self.samples >= 1, f"--samples must be at least 1, got {self.samples}")
        need(self.temperature > 0, f"--temperature must be > 0, got {self.temperature}")
        need(self.max_tokens >= 1, f"--max-tokens must be at least 1, got {self.max_tokens}")
        need(1 <= self.top_k <= 100, f"--top-k must be in 1..100, got {self.top_k}")
        need(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        need(self.max_length >= 2, f"--max-length must be at least 2, got {self.max_length}")
        need(0 < self.alpha < 1, f"--alpha must be in (0, 1), got {self.alpha}")
        need(self.concurrency >= 1, f"--concurrency must be at least 1, got {self.concurrency}")
        need(self.max_retries >= 0, f"--max-retries must be >= 0, got {self.max_retries}")
        need(self.timeout > 0, f"--timeout must be positive (got {self.timeout})")
        try:
            WatermarkConfig(scheme=self.scheme, context=self.context, gamma=self.gamma)
        except ConfigError as exc:
            p += [f"--{problem}" for problem in exc.problems]
        return p
