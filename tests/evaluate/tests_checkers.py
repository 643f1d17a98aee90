"""A user checker module, importable as `tests_checkers:same_length` while the tests run."""

NOT_CALLABLE = 3


def same_length(completion: str, answer: str) -> bool:
    return len(completion) == len(answer)
