"""Do teacher and student speak the same tokens? Comparing tokenizers, and mapping token strings to ids.

Distillation losses compare distributions id by id, so they only make sense when id ``i`` means the
same piece of text on both sides. Two situations are fine and common:

- the same tokenizer (same vocabulary contents), even when the *models* have different numbers of
  embedding rows (Qwen-style padding to a multiple of 64/128): the extra rows are never real tokens;
- a harvest from an API that gives top-k alternatives only as *strings*: they are mapped to the
  student's ids when the student's tokenizer has exactly that piece.

Anything else is a different tokenizer, and only ``--loss sft`` (which needs nothing but text) works.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from distillab.bytelevel import bytes_to_unicode

REPLACEMENT = "\ufffd"
"""What a token holding part of a UTF-8 character decodes to on its own: not mappable back to an id."""


def _byte_level(tokenizer: PreTrainedTokenizerBase) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and "ByteLevel" in repr(getattr(backend, "decoder", None))


def same_tokenizer(a: PreTrainedTokenizerBase, b: PreTrainedTokenizerBase) -> bool:
    """Whether both map every piece (special tokens included) to the same id."""
    return bool(a.get_vocab() == b.get_vocab())


class StringToId:
    """Maps a token's text (as an OpenAI-style API returns it) to the id of the same single token.

    Tried in order: a special/added token of that exact text; for byte-level BPE tokenizers, the
    text's UTF-8 bytes spelled in the byte-level alphabet (exact, no re-tokenisation); otherwise
    re-encoding the text, accepted only when it gives exactly one token that decodes back to it.
    Returns -1 when the text is not one token of this tokenizer.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer
        self.vocab = tokenizer.get_vocab()
        self.added = {
            tok: i
            for tok, i in self.vocab.items()
            if tok in set(tokenizer.all_special_tokens)
            or tok in {t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values()}
        }
        self.byte_level = _byte_level(tokenizer)
        self.cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        found = self.cache.get(text)
        if found is None:
            found = self._lookup(text)
            self.cache[text] = found
        return found

    def _lookup(self, text: str) -> int:
        if not text or REPLACEMENT in text:
            return -1
        if text in self.added:
            return self.added[text]
        if self.byte_level:
            table = bytes_to_unicode()
            return self.vocab.get("".join(table[b] for b in text.encode("utf-8")), -1)
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) == 1 and self.tokenizer.decode(ids, clean_up_tokenization_spaces=False) == text:
            return int(ids[0])
        return -1


class BytesToId:
    """Maps a token's exact bytes to the id of the one token of this tokenizer with those bytes (-1: none).

    Cross-tokenizer distillation asks "does the student have this teacher token?": for a byte-level BPE
    the bytes are spelled in the byte-level alphabet and looked up (exact, partial UTF-8 characters
    included); otherwise the bytes must decode as UTF-8 and go through ``StringToId``.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.strings = StringToId(tokenizer)
        self.cache: dict[bytes, int] = {}

    def __call__(self, raw: bytes) -> int:
        found = self.cache.get(raw)
        if found is None:
            found = self._lookup(raw)
            self.cache[raw] = found
        return found

    def _lookup(self, raw: bytes) -> int:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and text in self.strings.added:
            return self.strings.added[text]
        if self.strings.byte_level:
            table = bytes_to_unicode()
            return self.strings.vocab.get("".join(table[b] for b in raw), -1) if raw else -1
        return self.strings(text) if text is not None else -1
