"""Per-token text and bytes, as the OpenAI logprobs format needs them.

A single token's text is not always meaningful on its own: byte-level BPE tokens can hold part of a
UTF-8 character, which decodes to U+FFFD. That is why OpenAI returns `bytes` next to `token`; here the
bytes come from the byte-level alphabet when the tokenizer uses one, and from the decoded text otherwise.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from distillab.bytelevel import unicode_to_bytes


def _uses_byte_level(tokenizer: PreTrainedTokenizerBase) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    return decoder is not None and "ByteLevel" in repr(decoder)


class Vocab:
    """Cached token id -> text piece / UTF-8 bytes lookups for one tokenizer."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer
        self._byte_level = _uses_byte_level(tokenizer)
        self._special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}))
        self._pieces: dict[int, str] = {}
        self._bytes: dict[int, list[int]] = {}

    def piece(self, token_id: int) -> str:
        """The token decoded on its own, special tokens included (e.g. "<|end|>")."""
        piece = self._pieces.get(token_id)
        if piece is None:
            piece = str(
                self.tokenizer.decode(
                    [token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False
                )
            )
            self._pieces[token_id] = piece
        return piece

    def token_bytes(self, token_id: int) -> list[int]:
        """The token's exact bytes: concatenating them over a completion gives its UTF-8 text."""
        cached = self._bytes.get(token_id)
        if cached is not None:
            return cached
        raw: list[int] | None = None
        if self._byte_level and token_id not in self._special:
            token = self.tokenizer.convert_ids_to_tokens(token_id)
            table = unicode_to_bytes()
            if isinstance(token, str) and all(ch in table for ch in token):
                raw = [table[ch] for ch in token]
        if raw is None:
            raw = list(self.piece(token_id).encode("utf-8"))
        self._bytes[token_id] = raw
        return raw
