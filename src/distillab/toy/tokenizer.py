"""The tiny world's tokenizer: a byte-level BPE with whole-number tokens (0-99) and a chat template.

Numbers are cut into chunks of at most two digits, each keeping the space before it (" 1024" ->
" 10", "24"), and with vocab_size >= 512 every such chunk is one token, the way many production
tokenizers keep short numbers whole. A tiny model then adds " 12 + 7 = 19" by mapping two number
tokens to a third, instead of aligning digits, carries and spaces across positions: that is what lets
a model of about a million parameters learn multi-step arithmetic in minutes on CPU.

`other_tokenizer()` is the tiny world's second tokenizer, for cross-tokenizer distillation: the same
byte-level alphabet and whole numbers 0-99, but a number's leading space is a token of its own (" 19"
is " " + "19", as in Llama-style tokenizers), its merges are learned on the arith problems alone, and
shared pieces have other ids. Every number in an answer is then one teacher token over two student
tokens.

Built with the `tokenizers` library and wrapped as a `PreTrainedTokenizerFast`, so it saves and loads
with `save_pretrained` / `AutoTokenizer.from_pretrained` exactly like a hub tokenizer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

EOS = "<|endoftext|>"
END = "<|end|>"
SPECIAL_TOKENS = [EOS, "<|system|>", "<|user|>", "<|assistant|>", END]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


NUMBERS = " " + " ".join(str(i) for i in range(100)) + "\n" + "\n".join(str(i) for i in range(100))
NUMBER_REPEATS = 500
"""Copies of NUMBERS (0-99 with and without a space) added to any corpus: frequent enough that BPE
merges every number before anything else (190 merges on top of the 261 base tokens)."""


def build_tokenizer(
    corpus: Iterable[str], vocab_size: int = 2048, *, number_space: bool = True
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus`; numbers 0-99 are single tokens if vocab_size >= 512.

    `number_space=False` keeps the space before a number out of its token (" 19" -> " ", "19").
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r" ?\d{1,2}" if number_space else r"\d{1,2}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    seeded = itertools.chain(corpus, itertools.repeat(NUMBERS, NUMBER_REPEATS))
    tok.train_from_iterator(seeded, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=EOS,
        bos_token=None,
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def whole_numbers(tokenizer: PreTrainedTokenizerFast) -> bool:
    """Whether every number 0-99, with or without a leading space, is a single token."""
    return all(
        len(tokenizer(f"{space}{i}", add_special_tokens=False)["input_ids"]) == 1
        for i in range(100)
        for space in ("", " ")
    )


OTHER_VOCAB_SIZE = 512
OTHER_CORPUS_PROBLEMS = 2000


def other_tokenizer(vocab_size: int = OTHER_VOCAB_SIZE) -> PreTrainedTokenizerFast:
    """The second tokenizer: `build_tokenizer` without number spaces, on arith problems only."""
    from distillab.toy.arith import problems

    corpus = [f"{p.prompt}\n{p.answer}" for p in problems("train", OTHER_CORPUS_PROBLEMS, seed=1)]
    return build_tokenizer(corpus, vocab_size, number_space=False)
