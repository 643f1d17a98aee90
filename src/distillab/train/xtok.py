"""Cross-tokenizer distillation data: the teacher's signal re-expressed on the student's tokens.

When the student's tokenizer is not the teacher's, a teacher token id means nothing to the student.
What both sides share is the text. So the teacher's side of each record is taken as *bytes*: each
sampled token's bytes, its log-probability, and its top-k alternatives' bytes and log-probabilities
(from the harvest's token strings, from its token ids through the teacher tokenizer it recorded, or
from a local teacher scoring the completion, see ``score_sides``). The student's own tokens of the
completion are aligned with the teacher's by byte span (``distillab.train.align``), and then:

- ``align``: where one teacher token covers exactly one student token, that student position gets the
  teacher's top-k mapped onto student ids: an alternative the student has as one token keeps its
  log-prob, one it has not goes to the tail bucket (its probability is not spread over the others), so
  the token-level loss compares the two distributions over what both can say in one token.
  Where one teacher token covers several student tokens (" 19" = " " + "19"), the alternatives the
  student writes with the same leading tokens and one different last token (" 18" = " " + "18") are
  mapped onto that last token, and the student's side of each is the *joint* probability of the
  leading tokens and that last token (``kd_prefix`` says how many leading tokens there are). Every
  other group (many-to-one, many-to-many, or no alternative mapped) becomes a span: the student
  learns to give the span's text the probability the teacher gave it (``losses.span``).
- ``uld``: student position ``t`` is paired with teacher position ``t`` and the teacher's top-k
  log-probs are kept as they are; ``losses.uld`` compares sorted probabilities (Boizard et al. 2024).

The signal is attached to examples ``encode_records`` made from the student's re-tokenised
completions, so the student always trains on its own canonical tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distillab.models.given import given_tokens
from distillab.models.scoring import score
from distillab.models.vocab import Vocab
from distillab.train.align import align_spans
from distillab.train.encode import Example
from distillab.train.vocab import BytesToId

LOCAL_TOP_K = 64
"""Alternatives kept per position from a local teacher's full logits (the rest is the tail bucket)."""


@dataclass
class TeacherSide:
    """One record as the teacher tokenised it, in bytes."""

    pieces: list[bytes]
    """Each sampled (or scored) completion token's bytes."""
    logprobs: list[float] | None
    """Each token's log-probability (None when the harvest lacks them: no span terms then)."""
    top: list[list[bytes]]
    """Per position, the alternatives' bytes, most likely first."""
    top_logprobs: list[list[float]]


@dataclass
class CrossStats:
    """How much of the teacher's signal reached the student, for the run's report and record."""

    method: str
    teacher_tokens: int = 0
    """Teacher completion tokens with a signal, over all records."""
    aligned_tokens: int = 0
    """Of those, tokens inside an alignment group (the rest lie past where the two texts part)."""
    one_to_one: int = 0
    """Groups of one teacher and one student token: trained with the token-level loss."""
    one_to_many: int = 0
    """Groups of one teacher token over several student tokens, trained with the token-level loss on
    the last one (joint with the leading ones)."""
    spans: int = 0
    """Other groups: trained with the sequence-level span term."""
    alternatives: int = 0
    """Top-k alternatives at one-to-one positions."""
    unmapped: int = 0
    """Of those, alternatives the student has no single token for (their mass is in the tail bucket)."""
    paired: int = 0
    """``uld``: student positions paired with a teacher position."""

    def describe(self) -> str:
        if self.method == "uld":
            return f"uld: {self.paired:,} student positions paired with the teacher's sorted top-k"
        share = self.aligned_tokens / self.teacher_tokens if self.teacher_tokens else 0.0
        mapped = 1 - self.unmapped / self.alternatives if self.alternatives else 0.0
        return (
            f"align: {share:.0%} of teacher tokens aligned by byte span; {self.one_to_one:,} one-to-one "
            f"and {self.one_to_many:,} one-to-many groups at token level ({mapped:.0%} of the teacher's "
            f"alternatives mapped to student tokens), {self.spans:,} spans at sequence level"
        )


def _records_prompt(record: dict[str, Any]) -> list[dict[str, str]] | str:
    if record["messages"] is None:
        return str(record["prompt"])
    return [{"role": m["role"], "content": m["content"]} for m in record["messages"]]


def side_from_record(record: dict[str, Any], teacher_vocab: Vocab | None) -> TeacherSide | None:
    """The record's teacher side; None when it has no top-k, or only ids and no tokenizer to read them."""
    if not record["top_logprobs"]:
        return None
    top_logprobs = [[float(v) for v in row or []] for row in record["top_logprobs"]]
    logprobs = record.get("token_logprobs")
    if record["token_ids"] is not None and record["top_ids"] is not None:
        if teacher_vocab is None:
            return None

        def raw(token: int) -> bytes:
            return bytes(teacher_vocab.token_bytes(int(token)))

        pieces = [raw(t) for t in record["token_ids"]]
        top = [[raw(t) for t in row or []] for row in record["top_ids"]]
    elif record["tokens"] is not None and record["top_tokens"] is not None:
        # An API's token text: a token holding part of a UTF-8 character arrives as U+FFFD, whose bytes
        # differ from the completion's, so alignment stops there (``align_spans`` aligns the common prefix).
        pieces = [t.encode("utf-8") for t in record["tokens"]]
        top = [[t.encode("utf-8") for t in row or []] for row in record["top_tokens"]]
    else:
        return None
    return TeacherSide(pieces, None if logprobs is None else [float(v) for v in logprobs], top, top_logprobs)


@torch.no_grad()
def score_sides(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    records: Sequence[dict[str, Any]],
    *,
    top_k: int = LOCAL_TOP_K,
    batch_size: int = 16,
) -> list[TeacherSide]:
    """A local teacher's side of every record: it scores each completion under its own tokenizer.

    The full distribution is computed at every position; its ``top_k`` most likely tokens are kept
    and the rest is left to the tail bucket, so memory stays ``records x tokens x top_k``. The side
    ends at the first special token (the end of turn): what a chat template writes after it (a
    newline) is text no teacher ever predicted, and its distribution there is noise.
    """
    vocab = Vocab(tokenizer)
    split = [given_tokens(tokenizer, _records_prompt(r), str(r["completion"])) for r in records]
    scored = score(model, [head + tail for head, tail in split], top_k=top_k, batch_size=batch_size)
    sides = []
    special = set(tokenizer.all_special_ids)
    for (head, tail), s in zip(split, scored):
        tail = tail[: next((j + 1 for j, t in enumerate(tail) if t in special), len(tail))]
        start, end = len(head) - 1, len(head) - 1 + len(tail)  # s[t] is the log-probability of token t + 1
        assert s.top_ids is not None and s.top_logprobs is not None
        sides.append(
            TeacherSide(
                [bytes(vocab.token_bytes(t)) for t in tail],
                s.token_logprobs[start:end].tolist(),
                [[bytes(vocab.token_bytes(t)) for t in row] for row in s.top_ids[start:end].tolist()],
                s.top_logprobs[start:end].tolist(),
            )
        )
    return sides


def top_k_of(sides: Sequence[TeacherSide | None]) -> int:
    """The widest top-k row over all sides (rows may be shorter where an API gave fewer)."""
    return max((len(row) for s in sides if s is not None for row in s.top_logprobs), default=0)


class _Spellings:
    """Teacher alternative bytes -> the student's tokens for them, written on their own (cached)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer, self.to_id = tokenizer, BytesToId(tokenizer)
        self.cache: dict[bytes, tuple[int, ...]] = {}

    def __call__(self, raw: bytes) -> tuple[int, ...]:
        found = self.cache.get(raw)
        if found is None:
            single = self.to_id(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] if text and single < 0 else []
            found = (single,) if single >= 0 else tuple(int(i) for i in ids)
            self.cache[raw] = found
        return found


def _map_alternatives(
    raws: Sequence[bytes], prefix: Sequence[int], spell: _Spellings, stats: CrossStats
) -> list[tuple[int, int]]:
    """(slot, student id of the last token) for each alternative the student spells ``prefix`` + one token."""
    mapped, seen = [], set()
    for slot, raw in enumerate(raws):
        spelled = spell(raw)
        stats.alternatives += 1
        last = spelled[-1] if len(spelled) == len(prefix) + 1 and list(spelled[:-1]) == list(prefix) else -1
        if last < 0 or last in seen:
            stats.unmapped += 1
            continue
        seen.add(last)
        mapped.append((slot, last))
    return mapped


def attach_cross(
    examples: Sequence[Example],
    sides: Sequence[TeacherSide | None],
    tokenizer: PreTrainedTokenizerBase,
    *,
    method: str,
    k: int,
) -> CrossStats:
    """Give each example the teacher's signal on its student tokens (see the module docstring)."""
    assert method in ("align", "uld"), method
    stats = CrossStats(method)
    vocab, spell = Vocab(tokenizer), _Spellings(tokenizer)
    for example in examples:
        side = sides[example.record]
        if side is None:
            continue
        completion = example.input_ids[example.n_prompt :]
        stats.teacher_tokens += len(side.pieces)
        ids = np.full((len(completion), k), -1, dtype=np.int64)
        logprobs = np.full((len(completion), k), -np.inf, dtype=np.float32)
        if method == "uld":
            n = min(len(completion), len(side.top_logprobs))
            for j in range(n):
                row = side.top_logprobs[j][:k]
                logprobs[j, : len(row)] = row
            stats.paired += n
            example.topk_ids, example.topk_logprobs = ids[:n], logprobs[:n]
            continue
        groups = align_spans(side.pieces, [bytes(vocab.token_bytes(t)) for t in completion])
        kd = np.zeros(len(completion), dtype=bool)
        prefix = np.zeros(len(completion), dtype=np.int64)
        spans: list[tuple[int, int]] = []
        span_logprobs: list[float] = []
        for g in groups:
            stats.aligned_tokens += g.t_end - g.t_start
            mapped = []
            if g.t_end - g.t_start == 1 and g.t_start < len(side.top):
                raws = side.top[g.t_start][:k]
                mapped = _map_alternatives(raws, completion[g.s_start : g.s_end - 1], spell, stats)
            if mapped:
                last = g.s_end - 1
                for slot, student_id in mapped:
                    ids[last, slot], logprobs[last, slot] = student_id, side.top_logprobs[g.t_start][slot]
                kd[last], prefix[last] = True, last - g.s_start
                stats.one_to_one += g.one_to_one
                stats.one_to_many += not g.one_to_one
            elif side.logprobs is not None and g.s_end > g.s_start:
                total = sum(side.logprobs[g.t_start : g.t_end])
                if math.isfinite(total):
                    spans.append((g.s_start, g.s_end))
                    span_logprobs.append(total)
                    stats.spans += 1
        example.topk_ids, example.topk_logprobs, example.kd_positions = ids, logprobs, kd
        example.kd_prefix = prefix
        if spans:
            example.spans = np.asarray(spans, dtype=np.int64)
            example.span_logprobs = np.asarray(span_logprobs, dtype=np.float32)
    return stats
