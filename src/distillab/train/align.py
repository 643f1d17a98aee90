"""Aligning two tokenisations of one text by their byte spans (cross-tokenizer distillation).

Teacher and student cut the same completion into different tokens. Each token covers a span of the
text's UTF-8 bytes; a *boundary* is a byte offset where a token ends. Boundaries both sides share cut
the text into groups, and each group is the smallest run of teacher tokens that covers exactly the
same bytes as a run of student tokens:

    text      "Ann has 12"
    teacher   "Ann" " has" " 12"
    student   "An" "n" " has" " 1" "2"
    groups    ("Ann" | "An" "n")  (" has" | " has")  (" 12" | " 1" "2")
               one-to-many         one-to-one         one-to-many

Bytes, not characters: a byte-level BPE token can hold part of a UTF-8 character, which has no
character span of its own; in bytes every token has an exact span and a split character simply lands
inside one group. Only the common byte prefix of the two sides is aligned (their texts can differ
after the completion, e.g. different chat templates' end-of-turn text); tokens past it get no group.

    groups = align_spans([b"Ann", b" has"], [b"An", b"n", b" has"])
    groups[1].one_to_one   # True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class Group:
    """Teacher tokens ``[t_start, t_end)`` and student tokens ``[s_start, s_end)`` over the same bytes."""

    t_start: int
    t_end: int
    s_start: int
    s_end: int

    @property
    def one_to_one(self) -> bool:
        return self.t_end - self.t_start == 1 and self.s_end - self.s_start == 1


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def align_spans(teacher: Sequence[bytes], student: Sequence[bytes]) -> list[Group]:
    """Groups of teacher and student tokens covering the same bytes, in text order.

    ``teacher`` and ``student`` are each token's bytes. Only the common prefix of the two joined texts is
    aligned; a token that ends past it belongs to no group. A zero-length token joins the group its end
    offset falls in (the one before it, or the first group at the very start).
    """
    limit = common_prefix(b"".join(teacher), b"".join(student))
    t_ends = list(accumulate(len(t) for t in teacher))
    s_ends = list(accumulate(len(s) for s in student))
    shared = sorted(set(t_ends) & set(s_ends) - {0})
    groups: list[Group] = []
    ti = si = 0
    for cut in shared:
        if cut > limit:
            break
        t_end, s_end = ti, si
        while t_end < len(t_ends) and t_ends[t_end] <= cut:
            t_end += 1
        while s_end < len(s_ends) and s_ends[s_end] <= cut:
            s_end += 1
        groups.append(Group(ti, t_end, si, s_end))
        ti, si = t_end, s_end
    return groups
