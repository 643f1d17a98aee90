"""Harvest records -> token ids for the student, with the teacher's signal (top-k or drawn ids) aligned.

A chat record becomes ``template(messages, add_generation_prompt=True)`` (the prompt, no loss) followed
by the rest of ``template(messages + [assistant: completion])`` (the completion and the template's
end-of-turn tokens, trained on); a raw-prompt record becomes ``prompt`` + ``completion`` + eos. A
completion cut by ``max_tokens`` (``finish_reason == "length"``) gets no end token: the teacher never
ended it, so the student should not learn to.

Alignment. The teacher's signal is per *teacher* token. When the record has the teacher's token ids
(or token strings that map to single student tokens) and the student's tokenizer decodes them back to
the completion's text, they *are* the student's tokens: the sequence is trained as the teacher sampled
it, including non-canonical splits, and position ``j`` takes the teacher's top-k of position ``j``.
Otherwise the completion is re-tokenised and keeps the teacher's signal only on the prefix where the
two token sequences agree (such records are counted and reported); a different tokenizer agrees almost
nowhere, which ``setup`` turns into an error. Teacher ids the student's vocabulary does not have (a
teacher whose embedding matrix is padded further) are dropped: their probability moves to the tail
(top-k), or their draws keep counting in the total with no term (sampled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerBase

from distillab.errors import DataError
from distillab.train.vocab import REPLACEMENT, StringToId


@dataclass
class Example:
    """One training sequence: ``input_ids[:n_prompt]`` is the prompt, the rest the completion."""

    input_ids: list[int]
    n_prompt: int
    prompt_id: str
    topk_ids: np.ndarray | None = None
    """``[S, K]`` int64, the teacher's top-k ids for completion tokens ``0..S-1`` (``-1`` = no id)."""
    topk_logprobs: np.ndarray | None = None
    """``[S, K]`` float32 log-probs of those ids."""
    draw_ids: np.ndarray | None = None
    """``[S, D]`` int64, the distinct ids drawn from the teacher for completion tokens ``0..S-1`` (``-1``
    pads, or marks an id past the student's vocabulary)."""
    draw_counts: np.ndarray | None = None
    """``[S, D]`` float32, how often each was drawn (0 on padding)."""
    entropy: np.ndarray | None = None
    """``[S]`` float32, the teacher's entropy (nats) at each of those tokens."""
    record: int = -1
    """Index of the harvest record it was encoded from."""
    kd_positions: np.ndarray | None = None
    """``[S]`` bool, which of the ``S`` top-k rows carry a signal (None: all of them). Cross-tokenizer
    data has rows only where tokens match one-to-one."""
    kd_prefix: np.ndarray | None = None
    """``[S]`` int64: at a cross-tokenizer position, how many student tokens before it the teacher's token
    also covers (its top-k then scores them jointly, see ``train.xtok``); None: 0 everywhere."""
    spans: np.ndarray | None = None
    """``[G, 2]`` int64 completion-token ranges ``[start, end)`` trained with the sequence-level term."""
    span_logprobs: np.ndarray | None = None
    """``[G]`` float32, the teacher's log-probability of each span's text."""


@dataclass
class EncodeStats:
    """What encoding had to cut or drop, for the warnings and the provenance record."""

    records: int = 0
    exact_records: int = 0
    """Records trained on the teacher's own token ids (the student's tokenizer decodes them to the text)."""
    dropped_long_prompt: int = 0
    truncated: int = 0
    teacher_tokens: int = 0
    """Completion tokens the teacher's signal covers, over all records with a signal."""
    aligned_tokens: int = 0
    """Of those, tokens inside the prefix where the student's tokenisation agrees with the teacher's."""
    trimmed_records: int = 0
    ids_beyond_vocab: int = 0
    """Top-k entries whose id is past the student's vocabulary (their mass goes to the tail bucket)."""
    unmapped_strings: int = 0
    """Top-k entries given as text that is not one token of the student's tokenizer."""
    topk_entries: int = 0
    top_k: int = 0
    draws: int = 0
    """Most distinct drawn ids at one position (0: no sampled signal, or not asked for)."""

    @property
    def aligned_fraction(self) -> float:
        return self.aligned_tokens / self.teacher_tokens if self.teacher_tokens else 1.0


def _texts(record: dict[str, Any], tokenizer: PreTrainedTokenizerBase) -> tuple[str, str]:
    """(prompt text, completion text); for a finished chat the completion text ends with the end-of-turn."""
    completion, stop = record["completion"], record["finish_reason"] == "stop"
    if record["messages"] is None:
        return record["prompt"], completion
    if not getattr(tokenizer, "chat_template", None):
        raise DataError(f"record {record['id']} is a chat but the student's tokenizer has no chat template")
    messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    prompt = str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    if stop:
        full = str(
            tokenizer.apply_chat_template(
                messages + [{"role": "assistant", "content": completion}], tokenize=False
            )
        )
        if full.startswith(prompt):
            return prompt, full[len(prompt) :]
    return prompt, completion


def _teacher_ids(record: dict[str, Any], to_id: StringToId | None) -> list[int] | None:
    if record["token_ids"] is not None:
        return [int(t) for t in record["token_ids"]]
    if record["tokens"] and to_id is not None:
        return [to_id(t) for t in record["tokens"]]
    return None


def _padded(rows: list[list[Any]], k: int, fill: Any, dtype: Any) -> np.ndarray:
    """Ragged rows (API rows may hold fewer than k alternatives) as a ``[len(rows), k]`` array."""
    if all(len(r) == k for r in rows):
        return np.asarray(rows, dtype=dtype).reshape(len(rows), k)
    out = np.full((len(rows), k), fill, dtype=dtype)
    for j, row in enumerate(rows):
        out[j, : min(len(row), k)] = row[:k]
    return out


def _topk_rows(
    record: dict[str, Any], rows: int, k: int, vocab_size: int, to_id: StringToId | None, stats: EncodeStats
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``rows`` top-k rows as padded ``[rows, k]`` arrays; unusable ids become -1 (-inf)."""
    logprobs = _padded([r or [] for r in record["top_logprobs"][:rows]], k, -np.inf, np.float32)
    if record["top_ids"] is not None:
        ids = _padded([r or [] for r in record["top_ids"][:rows]], k, -1, np.int64)
    else:
        ids = _padded(
            [[to_id(t) if to_id else -1 for t in r or []] for r in record["top_tokens"][:rows]],
            k,
            -1,
            np.int64,
        )
        stats.unmapped_strings += int(((ids < 0) & np.isfinite(logprobs)).sum())
        # Two strings can map to one id; a loss needs distinct ids, so later copies go to the tail.
        order = np.argsort(ids, axis=1, kind="stable")
        sorted_ids = np.take_along_axis(ids, order, axis=1)
        repeat = np.zeros_like(ids, dtype=bool)
        same = (sorted_ids[:, 1:] == sorted_ids[:, :-1]) & (sorted_ids[:, 1:] >= 0)
        np.put_along_axis(repeat, order[:, 1:], same, axis=1)
        ids[repeat] = -1
    beyond = ids >= vocab_size
    stats.ids_beyond_vocab += int(beyond.sum())
    stats.topk_entries += int(np.isfinite(logprobs).sum())
    unusable = beyond | (ids < 0)
    ids[unusable], logprobs[unusable] = -1, -np.inf
    return ids, logprobs


def _draw_rows(
    record: dict[str, Any], rows: int, vocab_size: int, stats: EncodeStats
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``rows`` positions' draws as padded ``[rows, D]`` ids and counts, and their entropies."""
    width = max((len(r) for r in record["draw_ids"][:rows] if r), default=1)
    ids = _padded([r or [] for r in record["draw_ids"][:rows]], width, -1, np.int64)
    counts = _padded([r or [] for r in record["draw_counts"][:rows]], width, 0, np.float32)
    beyond = ids >= vocab_size
    stats.ids_beyond_vocab += int(beyond.sum())
    stats.topk_entries += int((ids >= 0).sum())
    ids[beyond] = -1
    entropy = np.asarray(record["entropy"][:rows], dtype=np.float32)
    return ids, counts, entropy


def _reproduces(teacher: list[int], text: str, tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the student's tokenizer decodes the teacher's ids to exactly the completion text."""
    if not teacher or min(teacher) < 0 or max(teacher) >= len(tokenizer):
        return False
    decoded = tokenizer.decode(teacher, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    assert isinstance(decoded, str)  # one sequence of ids decodes to one string
    # A completion cut by max_tokens can end inside a UTF-8 character, which teachers drop from the text.
    return bool(decoded == text or decoded.rstrip(REPLACEMENT) == text.rstrip(REPLACEMENT))


def encode_records(
    records: list[dict[str, Any]],
    tokenizer: PreTrainedTokenizerBase,
    *,
    vocab_size: int,
    max_length: int,
    with_signal: bool,
) -> tuple[list[Example], EncodeStats]:
    """Tokenise ``records`` for the student; with ``with_signal``, attach the aligned top-k signal.

    ``vocab_size`` is the student's number of output logits (may exceed ``len(tokenizer)``).
    """
    stats = EncodeStats(records=len(records))
    texts = [_texts(r, tokenizer) for r in records]
    # A raw prompt gets the tokenizer's usual specials (BOS), a rendered chat template already has its own.
    prompt_ids = [
        tokenizer(p, add_special_tokens=r["messages"] is None)["input_ids"]
        for r, (p, _) in zip(records, texts)
    ]
    retokenised = tokenizer([c for _, c in texts], add_special_tokens=False)["input_ids"]
    to_id = StringToId(tokenizer) if any(r["token_ids"] is None and r["tokens"] for r in records) else None
    k = max((len(row) for r in records if r["top_logprobs"] for row in r["top_logprobs"] if row), default=0)
    stats.top_k = k if with_signal else 0
    draws = max((len(row) for r in records if r.get("draw_ids") for row in r["draw_ids"] if row), default=0)
    stats.draws = draws if with_signal else 0
    eos, special = tokenizer.eos_token_id, set(tokenizer.all_special_ids)
    examples = []
    for index, (record, prompt, completion) in enumerate(zip(records, prompt_ids, retokenised)):
        teacher = _teacher_ids(record, to_id)
        exact = teacher is not None and _reproduces(teacher, record["completion"], tokenizer)
        completion = list(teacher if exact and teacher is not None else completion)
        stats.exact_records += exact
        # A finished answer must teach the student to stop: the teacher's (or the template's) end token
        # when there is one, else the tokenizer's eos (raw prompts, stop strings, templates without one).
        if record["finish_reason"] == "stop" and eos is not None and not special.intersection(completion):
            completion.append(eos)
        if len(prompt) >= max_length:
            stats.dropped_long_prompt += 1
            continue
        room = max_length - len(prompt)
        if len(completion) > room:
            stats.truncated += 1
            completion = completion[:room]
        key = record["prompt_id"] or record["id"]
        example = Example(list(prompt) + completion, len(prompt), key, record=index)
        signal = record["top_logprobs"] if k else record.get("draw_ids") if draws else None
        if with_signal and teacher is not None and signal:
            # -1 is a token string with no single-token match (part of a UTF-8 character, shown as U+FFFD):
            # a wildcard, so one such byte does not end the alignment when the tokens around it agree.
            n_match = next(
                (j for j, (a, b) in enumerate(zip(completion, teacher)) if a != b and b != -1),
                min(len(completion), len(teacher)),
            )
            n_match = min(n_match, len(signal))
            stats.teacher_tokens += min(len(teacher), len(completion))
            stats.aligned_tokens += n_match
            stats.trimmed_records += n_match < min(len(teacher), len(completion))
            if k:
                example.topk_ids, example.topk_logprobs = _topk_rows(
                    record, n_match, k, vocab_size, to_id, stats
                )
            else:
                example.draw_ids, example.draw_counts, example.entropy = _draw_rows(
                    record, n_match, vocab_size, stats
                )
        examples.append(example)
    return examples, stats
