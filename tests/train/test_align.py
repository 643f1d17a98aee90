"""Byte-span alignment of two tokenisations, and mapping teacher bytes to student ids, on hand-made cases."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from distillab.train.align import Group, align_spans, common_prefix
from distillab.train.vocab import BytesToId


def _b(*pieces: str) -> list[bytes]:
    return [p.encode("utf-8") for p in pieces]


def test_identical_tokens_are_all_one_to_one() -> None:
    groups = align_spans(_b("Ann", " has", " 12"), _b("Ann", " has", " 12"))
    assert groups == [Group(0, 1, 0, 1), Group(1, 2, 1, 2), Group(2, 3, 2, 3)]
    assert all(g.one_to_one for g in groups)


def test_one_to_many_and_many_to_one() -> None:
    # teacher " 12" is student " " + "12"; teacher "A" + "nn" is student "Ann"
    groups = align_spans(_b("A", "nn", " has", " 12"), _b("Ann", " has", " ", "12"))
    assert groups == [Group(0, 2, 0, 1), Group(2, 3, 1, 2), Group(3, 4, 2, 4)]
    assert [g.one_to_one for g in groups] == [False, True, False]


def test_many_to_many_is_one_group() -> None:
    # "abc": teacher "ab" "c", student "a" "bc": the only shared boundary is the end
    assert align_spans(_b("ab", "c", "d"), _b("a", "bc", "d")) == [Group(0, 2, 0, 2), Group(2, 3, 2, 3)]


def test_unicode_split_inside_a_character_lands_in_one_group() -> None:
    text = "né ☃!"
    snowman = "☃".encode()
    # The teacher's byte-level tokens cut the snowman's three bytes; the student has it whole.
    teacher = [b"n", "é".encode(), b" ", snowman[:1], snowman[1:], b"!"]
    student = _b("né", " ☃", "!")
    assert b"".join(teacher) == text.encode() == b"".join(student)
    groups = align_spans(teacher, student)
    assert groups == [Group(0, 2, 0, 1), Group(2, 5, 1, 2), Group(5, 6, 2, 3)]
    assert groups[-1].one_to_one


def test_only_the_common_prefix_is_aligned() -> None:
    # Texts part after "ab" (different end-of-turn text): tokens past it belong to no group.
    teacher, student = _b("a", "b", "<|end|>"), _b("a", "b", "[END]")
    assert common_prefix(b"ab<|end|>", b"ab[END]") == 2
    assert align_spans(teacher, student) == [Group(0, 1, 0, 1), Group(1, 2, 1, 2)]
    # A U+FFFD from an API's token text breaks the match from there on.
    assert align_spans(_b("x", "\ufffd", "y"), [b"x", "é".encode(), b"y"]) == [Group(0, 1, 0, 1)]


def test_zero_length_and_empty_inputs() -> None:
    assert align_spans([], _b("a")) == []
    assert align_spans(_b("a", "", "b"), _b("a", "b")) == [Group(0, 2, 0, 1), Group(2, 3, 1, 2)]


def test_bytes_to_student_ids(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    to_id = BytesToId(tokenizer)
    ids = tokenizer(" 12", add_special_tokens=False)["input_ids"]
    assert len(ids) == 1 and to_id(b" 12") == ids[0]
    assert to_id(b"<|end|>") == tokenizer.convert_tokens_to_ids("<|end|>")
    # a lone UTF-8 lead byte is a byte-level token; many bytes with no single token are not
    assert to_id("☃".encode()[:1]) == tokenizer.convert_tokens_to_ids("â")
    assert to_id(b" has has has has") == -1 and to_id(b"") == -1
