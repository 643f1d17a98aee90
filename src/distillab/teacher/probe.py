"""Find out once what signal an OpenAI-compatible server gives, with one tiny request per attempt.

Servers differ: vLLM/SGLang return top-k log-probabilities (vLLM also token ids on request), hosted APIs
cap k (OpenAI at 20, others at 5), `transformers serve` returns text only, and some servers reject
fields they do not know with a 400. So we ask for the most and step down on rejection:
top-20 with ids, top-20, top-5, then plain text. A server that *ignores* the fields is detected from
the answer, not the status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from distillab.errors import TeacherError
from distillab.openai_wire.parse import parse_response
from distillab.teacher.base import Capabilities, RequestRejected, Sample, SamplingParams

if TYPE_CHECKING:
    from distillab.teacher.http import HTTPTeacher

PROBE_MESSAGES = [{"role": "user", "content": "Say hello."}]
PROBE_PROMPT = "Hello"
# (top_logprobs, ask for token ids, logprobs at all), most informative first.
ATTEMPTS: tuple[tuple[int, bool, bool], ...] = (
    (20, True, True),
    (20, False, True),
    (5, False, True),
    (0, False, False),
)


async def probe_http(
    teacher: HTTPTeacher,
    kind: Literal["chat", "completion"],
    before: Callable[[], Awaitable[None]] | None = None,
) -> Capabilities:
    """Capabilities of `teacher`'s server for `kind` requests, awaiting `before` ahead of every request
    sent. Raises `TeacherError` if nothing works."""
    chat = kind == "chat"
    path = "chat/completions" if chat else "completions"
    rejected: list[str] = []
    for top_k, ids, logprobs in ATTEMPTS:
        params = SamplingParams(temperature=1.0, max_tokens=4, top_logprobs=top_k, logprobs=logprobs)
        caps_hint = Capabilities(mode="topk" if logprobs else "text", top_k=top_k, token_ids=ids)
        body = teacher.request_body(PROBE_MESSAGES if chat else PROBE_PROMPT, params, 1, caps_hint)
        try:
            sample = await _ask(teacher, path, body, chat, top_k, before)
        except RequestRejected as exc:
            if exc.status not in (400, 422) or not logprobs:
                raise
            rejected.append(f"top_logprobs={top_k}{' with token ids' if ids else ''}: {exc}")
            continue
        note = f"probed {path}" + (f"; server rejected {len(rejected)} richer request(s)" if rejected else "")
        if not logprobs:
            return Capabilities(
                mode="text",
                note=f"{note}; server rejected log-probability requests "
                f"(last: {rejected[-1] if rejected else 'n/a'})",
            )
        if sample.token_logprobs is None:
            return Capabilities(mode="text", note=f"{note}; server ignored the log-probability request")
        found_k = max((len(row) for row in sample.top_logprobs or []), default=0)
        return Capabilities(mode="topk", top_k=found_k, token_ids=sample.token_ids is not None, note=note)
    raise AssertionError("the last probe attempt asks for no log-probabilities and cannot be rejected here")


async def _ask(
    teacher: HTTPTeacher,
    path: str,
    body: dict[str, object],
    chat: bool,
    top_k: int,
    before: Callable[[], Awaitable[None]] | None,
) -> Sample:
    """The probe's first sample; asks again (up to 3 times) if the model stopped before any token,
    because an empty completion carries no log-probabilities to judge the server by."""
    for _ in range(3):
        if before is not None:
            await before()
        answer = await teacher.request_json("POST", path, body)
        samples, _, _ = parse_response(answer, chat, want_top=top_k > 0, url=f"{teacher.endpoint}/{path}")
        if not samples:
            raise TeacherError(f"{teacher.endpoint}/{path} answered the probe with no choices")
        if samples[0].text or samples[0].token_logprobs:
            break
    return samples[0]
