"""The arith task: deterministic, disjoint splits, and a checker that agrees with hand-worked answers."""

from __future__ import annotations

import pytest

from distillab.errors import ConfigError
from distillab.toy.arith import Problem, extract_answer, is_correct, problems, split_of, worked_answer


def test_same_seed_same_problems_and_other_seed_differs() -> None:
    assert problems("train", 50, seed=3) == problems("train", 50, seed=3)
    assert problems("train", 50, seed=3) != problems("train", 50, seed=4)


def test_test_chains_never_appear_in_train() -> None:
    def chain(p: Problem) -> str:
        return p.answer  # the worked answer spells out the start amount and every operation

    train = {chain(p) for seed in (0, 1) for p in problems("train", 3000, seed)}
    test = {chain(p) for p in problems("test", 500, seed=0)}
    assert len(test) > 450
    assert not train & test
    assert not {p.prompt for p in problems("train", 3000, 0)} & {p.prompt for p in problems("test", 500, 0)}


def test_problems_are_multi_step_with_varied_wording() -> None:
    ps = problems("test", 200, seed=0)
    steps = {p.answer.count("=") for p in ps}
    assert steps == {2, 3}
    assert len({p.prompt.split()[0] for p in ps}) >= 8  # names and openings vary
    assert all(0 <= int(p.final) <= 99 for p in ps)
    assert len({p.id for p in ps}) == 200


def test_worked_answer_by_hand() -> None:
    assert worked_answer(12, [("+", 7), ("-", 5)]) == ("12 + 7 = 19. 19 - 5 = 14. Answer: 14", "14")
    assert worked_answer(40, [("-", 25), ("+", 3), ("-", 18)]) == (
        "40 - 25 = 15. 15 + 3 = 18. 18 - 18 = 0. Answer: 0",
        "0",
    )


def test_split_of_is_a_function_of_the_chain() -> None:
    assert split_of(12, [("+", 7), ("-", 5)]) == split_of(12, [("+", 7), ("-", 5)])
    found = {split_of(s, [("+", 2), ("-", 3)]) for s in range(5, 61)}
    assert found == {"train", "test"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12 + 7 = 19. 19 - 5 = 14. Answer: 14", "14"),
        ("Answer: 014", "14"),
        ("answer is 7", "7"),
        ("3 + 4 = 7. Answer: 6. Oops, Answer: 8", "8"),
        ("12 + 7 = 19. 19 - 5 = 14.", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_is_correct_only_looks_at_the_final_answer() -> None:
    p = Problem(
        "x",
        "Mia has 12 apples. She buys 7 more and gives 5 away. How many apples does she have now?",
        "12 + 7 = 19. 19 - 5 = 14. Answer: 14",
        "14",
    )
    assert is_correct("12 + 7 = 19. 19 - 5 = 14. Answer: 14", p)
    assert is_correct("wrong steps 1 + 1 = 3. Answer: 14", p)
    assert not is_correct("12 + 7 = 19. 19 - 5 = 13. Answer: 13", p)
    assert not is_correct("14", p)


def test_bad_arguments_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="split"):
        problems("dev", 3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n:"):
        problems("train", -1)
