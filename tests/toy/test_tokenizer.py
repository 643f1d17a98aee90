"""The tiny world's tokenizer: whole-number tokens, lossless round trip, chat template."""

from __future__ import annotations

from distillab.toy.tokenizer import build_tokenizer, other_tokenizer, whole_numbers

CORPUS = ["Mia has 12 apples. She buys 7 more and gives 5 away.", "Return the value of x, or None."] * 20


def test_numbers_are_whole_tokens_with_a_big_enough_vocab() -> None:
    tokenizer = build_tokenizer(CORPUS, vocab_size=512)
    assert whole_numbers(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(
        tokenizer("12 + 7 = 19. In 1024", add_special_tokens=False)["input_ids"]
    )
    assert pieces[0] == "12" and {"Ġ7", "Ġ19", "Ġ10", "24"} <= set(pieces) and "Ġ1" not in pieces


def test_round_trip_and_chat_template() -> None:
    tokenizer = build_tokenizer(CORPUS, vocab_size=512)
    text = "Ünïcode, tabs\tand 3.14159 — all back."
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert chat == "<|user|>\nhi<|end|>\n<|assistant|>\n"


def test_small_vocab_still_works_without_the_guarantee() -> None:
    tokenizer = build_tokenizer(CORPUS, vocab_size=400)
    assert len(tokenizer) == 400 and not whole_numbers(tokenizer)


def test_second_tokenizer_splits_the_space_off_numbers() -> None:
    other = other_tokenizer()
    text = "Mia has 12 apples.\n12 + 7 = 19. Answer: 19"
    pieces = [other.decode([i]) for i in other(text, add_special_tokens=False)["input_ids"]]
    assert "".join(pieces) == text
    assert pieces[:4] == ["Mia", " has", " ", "12"] and pieces[-2:] == [" ", "19"]
    assert all(len(other(str(i), add_special_tokens=False)["input_ids"]) == 1 for i in range(100))
    assert other.chat_template and len(other) == 512
