"""What the gateway logs of an answer: the text of choice 0, from a JSON body or a passing SSE stream.

`SSEText` reads an OpenAI server-sent-event stream chunk by chunk as the relay forwards it (the text
and the usage, for the log and the tokens charge); `answer_text` reads a whole JSON answer. Both leave
out the prompt that an `echo` completion request gets back before its answer: the log keeps answers.
"""

from __future__ import annotations

import json
from typing import Any


class SSEText:
    """Reads an OpenAI server-sent-event stream as it passes: the text of choice 0, and the usage."""

    def __init__(self) -> None:
        self.buffer = b""
        self.pieces: list[str] = []
        self.content_chunks = 0
        self.prompt_tokens: int | None = None
        self.usage_completion: int | None = None
        self.usage: dict[str, Any] | None = None
        """The usage chunk's, when the client asked for one (stream_options.include_usage)."""

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                continue
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                continue
            if event.get("usage"):
                self.usage = event["usage"]
                self.prompt_tokens = event["usage"].get("prompt_tokens")
                self.usage_completion = event["usage"].get("completion_tokens")
            for choice in event.get("choices") or []:
                if choice.get("index", 0) != 0:
                    continue
                piece = (
                    (choice.get("delta") or {}).get("content") if "delta" in choice else choice.get("text")
                )
                if piece:
                    self.pieces.append(piece)
                    self.content_chunks += 1

    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        """From the usage chunk when the client asked for one, else one token per content chunk."""
        return self.usage_completion if self.usage_completion is not None else self.content_chunks


def answer_text(answer: dict[str, Any], request: dict[str, Any]) -> str | None:
    """Choice 0's answer: the message, or the completion's text without the prompt `echo` put before it."""
    choices = answer.get("choices") or []
    if not choices:
        return None
    first = choices[0]
    message = first.get("message")
    if isinstance(message, dict):
        return message.get("content")
    text = first.get("text")
    if not isinstance(text, str) or not request.get("echo"):
        return text
    prompt = _first_prompt(request.get("prompt"))
    if isinstance(prompt, list):  # token ids: the answer starts at the offset of the first answer token
        offsets = (first.get("logprobs") or {}).get("text_offset") or []
        return text[offsets[len(prompt)] :] if len(offsets) > len(prompt) else ""
    return without_echo(text, request)


def _first_prompt(prompt: Any) -> Any:
    """The prompt choice 0 answers: the first of a batch of prompts (strings or token-id lists)."""
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)):
        return prompt[0]
    return prompt


def without_echo(text: str, request: dict[str, Any]) -> str:
    """`text` without the prompt an `echo` request gets back before its answer (the log keeps answers)."""
    prompt = _first_prompt(request.get("prompt"))
    if request.get("echo") and isinstance(prompt, str) and text.startswith(prompt):
        return text[len(prompt) :]
    return text
