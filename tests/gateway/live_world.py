"""Pieces for the live-detector tests: a fake model server whose answers are long for reasoning requests,
simulated traffic to replay through a gateway with the official openai client, and a small honest
reference."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import openai
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from distillab.detect.simulate import SimulateConfig, read_labels, simulate
from distillab.detect.text import COT

REFERENCE = {"accounts": 250, "days": 1.0, "attacker_share": 0.0, "seed": 21}
"""Honest reference traffic: 216 active accounts, so p-values go down to about 1/217 (tests use a 2% FPR)."""
TRAFFIC = {
    "accounts": 40,
    "days": 2.0,
    "attacker_share": 0.3,
    "seed": 22,
    "campaigns": ("chain-of-thought", "templated"),
}


class FakeModel:
    """An OpenAI-compatible server that answers 90 tokens when asked to reason, else 25 (capped by
    max_tokens), as a model would give long answers to step-by-step requests; it remembers what it was
    asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.answer, methods=["POST"]),
                Route("/v1/completions", self.answer, methods=["POST"]),
            ]
        )

    async def answer(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        self.asked.append(body)
        chat = "messages" in body
        text = (
            " ".join(str(m.get("content", "")) for m in body["messages"]) if chat else str(body.get("prompt"))
        )
        tokens = min(int(body.get("max_tokens") or 256), 90 if COT.search(text) else 25)
        n = int(body.get("n") or 1)
        words = " ".join(["word"] * tokens)
        choices = [
            {
                "index": i,
                "finish_reason": "length",
                "logprobs": None,
                **({"message": {"role": "assistant", "content": words}} if chat else {"text": words}),
            }
            for i in range(n)
        ]
        return JSONResponse(
            {
                "id": "x",
                "object": "chat.completion" if chat else "text_completion",
                "created": 0,
                "model": body.get("model", "m"),
                "choices": choices,
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": tokens * n,
                    "total_tokens": 10 + tokens * n,
                },
            }
        )


def reference_log(folder: Path) -> Path:
    out = folder / "reference.parquet"
    simulate(SimulateConfig(out=out, **REFERENCE))  # type: ignore[arg-type]
    return out


def traffic(
    folder: Path, **changes: Any
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, str]], Path]:
    """Simulated records by account, the labels, and the log file."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "traffic.jsonl"
    simulate(SimulateConfig(out=out, **{**TRAFFIC, **changes}))
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        records[record["account"]].append(record)
    return records, read_labels(out.with_name("traffic.labels.jsonl")), out


def busiest(records: dict[str, list[dict[str, Any]]], labels: dict[str, dict[str, str]], kind: str) -> str:
    """The account of this persona or strategy with the most requests."""
    return max((a for a in records if labels[a]["kind"] == kind), key=lambda a: len(records[a]))


def replay(client: openai.OpenAI, record: dict[str, Any]) -> Any:
    """Send a simulated request as its account would (not streamed); the openai client's answer."""
    params = {k: v for k, v in record["params"].items() if k != "stream"}
    if record["messages"] is not None:
        return client.chat.completions.create(model=record["model"], messages=record["messages"], **params)
    return client.completions.create(model=record["model"], prompt=record["prompt"], **params)
