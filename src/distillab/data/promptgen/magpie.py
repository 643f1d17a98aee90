"""Magpie (Xu et al., 2024, "Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with
Nothing"): give an instruct model its chat template up to the start of a user turn, as a raw completion
prompt, and it writes what a user would ask.

The prefix is derived from the model's own chat template, never hard-coded: render a conversation whose
user message is a marker no template produces, and keep the text before the marker. So SmolLM2 gives
``<|im_start|>system ... <|im_end|>\\n<|im_start|>user\\n`` (its template adds a default system message) and
the tiny world's template ``<|user|>\\n``. A leading BOS the tokenizer adds by itself is dropped from the
text, so the model sees it once whether the prefix is encoded locally or sent to /v1/completions.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from distillab.errors import ConfigError

MARKER = "\u2063distillab-user-turn\u2063"
"""Stands in for the user's message while rendering (U+2063, an invisible separator, on both sides)."""


def magpie_prefix(tokenizer: PreTrainedTokenizerBase, *, system: str = "", where: str = "tokenizer") -> str:
    """The text of a conversation up to where the user's first message starts."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"{where}: the tokenizer has no chat template, which Magpie needs")
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": MARKER}
    ]
    try:
        text = str(tokenizer.apply_chat_template(messages, tokenize=False))
    except Exception as exc:  # jinja raises whatever the template's author chose
        raise ConfigError(f"{where}: the chat template cannot render a user turn ({exc})") from exc
    if MARKER not in text:
        raise ConfigError(f"{where}: the chat template does not write the user's message verbatim")
    prefix = text[: text.index(MARKER)]
    bos = tokenizer.bos_token
    if isinstance(bos, str) and bos and prefix.startswith(bos) and _adds_bos(tokenizer):
        prefix = prefix[len(bos) :]
    if not prefix.strip():
        raise ConfigError(f"{where}: the chat template writes nothing before the user's message")
    return prefix


def _adds_bos(tokenizer: PreTrainedTokenizerBase) -> bool:
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == tokenizer.bos_token_id
