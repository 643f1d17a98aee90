"""One request record (a dict, as the log formats hold it) reduced to what detection reads.

`request_fields(check(record, where))` gives the newest turn's text, whether the request carries a
conversation, asks for reasoning or for a distribution, its completion tokens, network and account
metadata and a hash of its parameters: the fields of `logs.Columns`, one value each. `logs` builds
batches of them (`from_records`) and reads Arrow rows into the same fields.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from typing import Any

from distillab.errors import DataError

from .text import COT


def to_epoch(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise DataError(f"{where}: 'ts' must be epoch seconds or an RFC 3339 time, got {value!r}")


def ip_prefix(ip: str | None) -> str | None:
    """The /24 of an IPv4 address or the /48 of an IPv6 one."""
    if not ip:
        return None
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + "::/48"
    parts = ip.split(".")
    return ".".join(parts[:3]) + ".0/24" if len(parts) == 4 else ip


def _content(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def messages_fields(messages: list[Any]) -> tuple[str, bool, str]:
    """(newest turn's text, carries assistant turns, system prompt)."""
    text = _content(messages[-1]) if messages else ""
    conversational = any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages)
    first = messages[0] if messages else None
    system = _content(first) if isinstance(first, dict) and first.get("role") == "system" else ""
    return text, conversational, system


def prompt_text(prompt: Any) -> str:
    return " ".join(str(p) for p in prompt) if isinstance(prompt, list) else str(prompt or "")


def asks_distribution(params: Any) -> bool:
    if not isinstance(params, dict):
        return False
    n = params.get("n")
    return bool(params.get("logprobs") or params.get("top_logprobs")) or (isinstance(n, int) and n > 1)


def _tokens(record: dict[str, Any]) -> float:
    value = record.get("completion_tokens")
    status = record.get("status")
    ok = status is None or (isinstance(status, int) and 200 <= status < 300)
    return (
        float(value)
        if ok and isinstance(value, (int, float)) and not isinstance(value, bool)
        else float("nan")
    )


STYLE_PARAMS = (
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "logprobs",
    "top_logprobs",
    "stream",
    "stop",
    "response_format",
)
"""The parameters that make a request's style (not ids, seeds or per-request values)."""


def style_of_params(params: Any) -> int:
    if not isinstance(params, dict):
        return 0
    chosen = {k: params[k] for k in STYLE_PARAMS if params.get(k) is not None}
    return zlib.crc32(json.dumps(chosen, sort_keys=True, default=str).encode()) if chosen else 0


def style_of_params_text(text: str | None) -> int:
    try:
        return style_of_params(json.loads(text)) if text else 0
    except json.JSONDecodeError:
        return 0


def check(record: Any, where: str) -> dict[str, Any]:
    """The record, validated: DataError naming `where` if it lacks what detection needs."""
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object per request")
    if not isinstance(record.get("account"), str) or not record["account"]:
        raise DataError(f"{where}: 'account' must be a non-empty string")
    if record.get("messages") is None and record.get("prompt") is None:
        raise DataError(f"{where}: needs 'messages' or 'prompt'")
    record["ts"] = to_epoch(record.get("ts"), where)
    return record


def request_fields(record: dict[str, Any], *, cot: bool = True) -> dict[str, Any]:
    """One validated record reduced to the `Columns` fields (one value each), plus its system prompt.
    With cot=False the reasoning check is left to the caller ("cot" is None): `from_records` does it
    for a whole batch with one Arrow kernel, many times faster than Python's `re` on each text."""
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        text, conversational, system = messages_fields(messages)
    else:
        text, conversational, system = prompt_text(record.get("prompt")), False, ""
    return {
        "ts": float(record["ts"]),
        "account": record["account"],
        "text": text,
        "system": system,
        "conversational": conversational,
        "cot": bool(COT.search(text) or (system and COT.search(system))) if cot else None,
        "distribution": asks_distribution(record.get("params")),
        "completion_tokens": _tokens(record),
        "prefix": ip_prefix(record.get("ip")),
        "user_agent": _str(record.get("user_agent")),
        "org": _str(record.get("org")),
        "payment_id": _str(record.get("payment_id")),
        "params_style": style_of_params(record.get("params")),
        "completion": not (isinstance(messages, list) and messages),
    }


def _str(value: Any) -> str | None:
    return str(value) if value else None
