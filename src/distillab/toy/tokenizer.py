"""The tiny world's tokenizer: a byte-level BPE with whole-number tokens (0-99) and a chat template.

Numbers are cut into chunks of at most two digits and every chunk is one token ("1024" -> "10", "24"),
the way many production tokenizers keep short numbers whole. A tiny model then adds "12 + 7 = 19" by
mapping two number tokens to a third, instead of aligning digits and carries across positions, which
is what lets a model of about a million parameters learn multi-step arithmetic in minutes on CPU.

Built with the `tokenizers` library and wrapped as a `PreTrainedTokenizerFast`, so it saves and loads
with `save_pretrained` / `AutoTokenizer.from_pretrained` exactly like a hub tokenizer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from distillab.errors import ConfigError

EOS = "<|endoftext|>"
END = "<|end|>"
SPECIAL_TOKENS = [EOS, "<|system|>", "<|user|>", "<|assistant|>", END]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


NUMBERS = " ".join(str(i) for i in range(100))
NUMBER_REPEATS = 5000
"""Copies of NUMBERS added to any corpus: frequent enough that BPE merges every two-digit number."""


def build_tokenizer(corpus: Iterable[str], vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus`; every number 0-99 is one token, whatever the corpus."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r"\d{1,2}"), behavior="isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(itertools.chain(corpus, itertools.repeat(NUMBERS, NUMBER_REPEATS)), trainer=trainer)
    vocab = tok.get_vocab()
    if not all(str(i) in vocab for i in range(100)):
        raise ConfigError(f"vocab_size: {vocab_size} is too small to hold every number 0-99 as one token")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=EOS,
        bos_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast
