"""The text task: real stdlib prose, deterministic, disjoint splits."""

from __future__ import annotations

import pytest

from distillab.errors import ConfigError
from distillab.toy.text import paragraphs, passages, split_of, to_passage


def test_paragraphs_are_plentiful_prose() -> None:
    paras = paragraphs()
    assert len(paras) > 1000
    assert all(len(p.split()) >= 12 and ">>>" not in p for p in paras)
    assert paragraphs() == paras


def test_splits_disjoint_and_deterministic() -> None:
    train, test = passages("train"), passages("test")
    assert len(test) > 100 and len(train) > 5 * len(test)
    assert not {p.id for p in train} & {p.id for p in test}
    assert passages("test", 20, seed=1) == passages("test", 20, seed=1)
    assert passages("test", 20, seed=1) != passages("test", 20, seed=2)


def test_to_passage_cuts_at_a_third() -> None:
    para = " ".join(f"w{i}" for i in range(30))
    p = to_passage(para)
    assert p.prompt == "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"
    assert p.continuation.split()[0] == "w10" and len(p.continuation.split()) == 20
    assert split_of(para) in ("train", "test")


def test_asking_for_too_many_passages_names_the_count() -> None:
    with pytest.raises(ConfigError, match="test passages"):
        passages("test", 10**7)
