"""Turn OpenAI-style response choices into `Sample`s.

Two shapes exist: chat completions put per-token entries in `logprobs.content[]` (each with its own
ordered `top_logprobs` list), legacy completions put parallel lists in `logprobs.tokens`,
`token_logprobs` and `top_logprobs` (a list of {token: logprob} dicts). Servers that support vLLM's
`return_tokens_as_token_ids` write every token as `"token_id:<int>"`; we then fill ids, not strings,
because ids are what a student trainer needs and strings cannot always be mapped back to ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distillab.errors import TeacherError
from distillab.models.samples import Sample

TOKEN_ID_PREFIX = "token_id:"


def _as_ids(tokens: list[str]) -> list[int] | None:
    """Token ids if every token is written `token_id:<int>`, else None (one pass, no per-token calls)."""
    if not tokens or not tokens[0].startswith(TOKEN_ID_PREFIX):
        return None
    cut = len(TOKEN_ID_PREFIX)
    try:
        return [int(t[cut:]) for t in tokens]
    except ValueError:
        return None


def _fix_missing(logprobs: list[Any]) -> list[float]:
    # Some servers send -inf as null; JSON has no infinity.
    return [float("-inf") if v is None else v for v in logprobs] if None in logprobs else logprobs


def _fill_signal(
    sample: Sample,
    tokens: list[str],
    logprobs: list[Any],
    top_tokens: list[list[str]] | None,
    top_logprobs: list[list[Any]] | None,
) -> None:
    """Store sampled tokens and alternatives on `sample`: ids when all tokens came back as ids.

    Alternatives are sorted by decreasing log-probability; servers normally send them sorted, so the
    check is done once with numpy and rows are reordered only when needed.
    """
    sample.token_logprobs = _fix_missing(logprobs)
    ids = _as_ids(tokens)
    if top_tokens is None or top_logprobs is None:
        sample.token_ids, sample.tokens = (ids, []) if ids is not None else (None, tokens)
        return
    flat = [t for row in top_tokens for t in row]
    alt_ids = _as_ids(flat) if flat else []
    top_logprobs = [_fix_missing(row) for row in top_logprobs]
    if not _sorted(top_logprobs):
        orders = [sorted(range(len(row)), key=row.__getitem__, reverse=True) for row in top_logprobs]
        top_logprobs = [[row[i] for i in order] for row, order in zip(top_logprobs, orders)]
        top_tokens = [[row[i] for i in order] for row, order in zip(top_tokens, orders)]
        flat = [t for row in top_tokens for t in row]
        alt_ids = _as_ids(flat) if flat else []
    sample.top_logprobs = top_logprobs
    if ids is not None and alt_ids is not None:
        sample.token_ids, sample.tokens = ids, []
        it = iter(alt_ids)
        sample.top_ids = [[next(it) for _ in row] for row in top_tokens]
    else:
        sample.tokens, sample.top_tokens = tokens, top_tokens


def _sorted(rows: list[list[float]]) -> bool:
    lengths = {len(row) for row in rows}
    if len(lengths) == 1 and lengths != {0}:
        array = np.asarray(rows, dtype=np.float64)
        return bool((np.diff(array, axis=1) <= 0).all())
    return all(all(a >= b for a, b in zip(row, row[1:])) for row in rows)


def parse_chat_choice(choice: dict[str, Any], want_top: bool) -> Sample:
    """One `choices[i]` of a chat completion response."""
    message = choice.get("message") or {}
    sample = Sample(text=message.get("content") or "", finish_reason=choice.get("finish_reason") or "")
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return sample
    tokens = [entry["token"] for entry in content]
    logprobs = [entry.get("logprob") for entry in content]
    top_tokens = top_logprobs = None
    if want_top:
        rows = [entry.get("top_logprobs") or [] for entry in content]
        top_tokens = [[alt["token"] for alt in row] for row in rows]
        top_logprobs = [[alt.get("logprob") for alt in row] for row in rows]
    _fill_signal(sample, tokens, logprobs, top_tokens, top_logprobs)
    return sample


def parse_completion_choice(choice: dict[str, Any], want_top: bool) -> Sample:
    """One `choices[i]` of a legacy completions response."""
    sample = Sample(text=choice.get("text") or "", finish_reason=choice.get("finish_reason") or "")
    lp = choice.get("logprobs") or {}
    tokens = lp.get("tokens")
    if not tokens:
        return sample
    top_tokens = top_logprobs = None
    if want_top and lp.get("top_logprobs"):
        rows = [row or {} for row in lp["top_logprobs"]]
        top_tokens = [list(row) for row in rows]
        top_logprobs = [list(row.values()) for row in rows]
    _fill_signal(sample, list(tokens), list(lp.get("token_logprobs") or []), top_tokens, top_logprobs)
    return sample


def parse_response(body: Any, chat: bool, want_top: bool, url: str) -> tuple[list[Sample], int, int]:
    """Samples (in choice index order) and (prompt_tokens, completion_tokens) from a response body."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise TeacherError(f"{url} answered without a 'choices' list: {str(body)[:200]}")
    try:
        choices = sorted(body["choices"], key=lambda c: c.get("index", 0))
        parse = parse_chat_choice if chat else parse_completion_choice
        samples = [parse(c, want_top) for c in choices]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TeacherError(f"{url} answered with malformed choices ({exc!r})") from exc
    usage = body.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    if not completion_tokens:
        # Servers that omit usage still let us count what we were given.
        completion_tokens = sum(len(s.token_ids or s.tokens) for s in samples)
    return samples, prompt_tokens, completion_tokens
