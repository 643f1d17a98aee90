"""Incremental detokenization with stop strings, shared by streaming and non-streaming responses.

Decoding the whole completion after every token is quadratic, and decoding each token alone breaks
multi-byte characters, so `TextTracker` uses the prefix-offset scheme of Hugging Face TGI: re-decode only a
short window and emit the new characters once they no longer end in U+FFFD.

Stop strings: the visible text is cut just before the first stop string, and text that could still turn
out to be the start of a stop string is held back until it is decided, so a streamed client never sees
part of a stop string. Tokens are not cut: the token that completed a stop string is still reported (as
vLLM does), only the text ends before the stop string.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase


class TextTracker:
    """The visible text of one sample, grown one token at a time."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str] = ()):
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self._ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0
        self.text = ""
        """Everything decoded so far, cut at the first stop string once one is found."""
        self.emitted = 0
        """How many characters of `text` have been handed out as deltas."""
        self.stopped = False

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))

    def _decode_new(self) -> str:
        prefix = self._decode(self._ids[self._prefix_offset : self._read_offset])
        full = self._decode(self._ids[self._prefix_offset :])
        if len(full) > len(prefix) and not full.endswith("\ufffd"):
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
            return full[len(prefix) :]
        return ""

    def push(self, token_id: int) -> str:
        """Add a token; return the newly visible text (maybe empty). Sets `stopped` on a stop string."""
        if self.stopped:
            return ""
        self._ids.append(token_id)
        new = self._decode_new()
        if not new:
            return ""
        search_from = max(0, len(self.text) - max((len(s) for s in self.stop), default=0) + 1)
        self.text += new
        cut = min((i for i in (self.text.find(s, search_from) for s in self.stop) if i >= 0), default=-1)
        if cut >= 0:
            self.text = self.text[:cut]
            self.stopped = True
            return self._release(len(self.text))
        return self._release(len(self.text) - self._held_back())

    def finish(self) -> str:
        """The sample ended (EOS or length): release whatever was held back."""
        return self._release(len(self.text))

    def _held_back(self) -> int:
        """Length of the longest text suffix that is a proper prefix of some stop string."""
        longest = 0
        for s in self.stop:
            for k in range(min(len(s) - 1, len(self.text)), longest, -1):
                if self.text.endswith(s[:k]):
                    longest = k
                    break
        return longest

    def _release(self, upto: int) -> str:
        if upto <= self.emitted:
            return ""
        delta = self.text[self.emitted : upto]
        self.emitted = upto
        return delta
