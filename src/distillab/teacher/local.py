"""A teacher that runs a local Hugging Face causal LM in this process.

It gives the richest signal a teacher can: sampled tokens with their ids, log-probabilities and top-k
alternatives from `generate`, and full next-token logits under teacher forcing from `logits` (for online
distillation). Concurrent `generate` calls are batched together, like requests to `distillab serve`.
Log-probabilities are the model's raw ones, before temperature and top_p (see distillab.models.generate).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import torch

from distillab.errors import RequestError
from distillab.models.batcher import Batcher
from distillab.models.generate import Engine, EngineRequest
from distillab.models.given import given_tokens
from distillab.models.samples import Sample
from distillab.models.scoring import score
from distillab.openai_wire.schemas import MAX_TOP_LOGPROBS
from distillab.teacher.base import Capabilities, Generation, PromptInput, RequestRejected, SamplingParams


class LocalTeacher:
    """The Teacher protocol over an in-process Engine."""

    def __init__(
        self, engine: Engine, *, name: str | None = None, max_batch: int = 16, batch_window_ms: float = 2.0
    ):
        self.engine = engine
        self.name = name or Path(engine.name_or_path).name
        self.endpoint = str(engine.name_or_path)
        self._batcher = Batcher(engine, max_batch=max_batch, window_s=batch_window_ms / 1000)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        name: str | None = None,
        max_batch: int = 16,
    ) -> LocalTeacher:
        """Load a model directory; raises ModelError naming the path when it cannot."""
        return cls(Engine.load(path, device=device, dtype=dtype), name=name, max_batch=max_batch)

    async def probe(self) -> Capabilities:
        """Full logits; `generate` returns up to 20 alternatives per position by default (more if asked)."""
        return Capabilities(
            mode="logits",
            top_k=MAX_TOP_LOGPROBS,
            token_ids=True,
            note=f"local model {self.endpoint}; full logits via LocalTeacher.logits",
        )

    async def generate(self, prompt: PromptInput, params: SamplingParams, n: int = 1) -> Generation:
        """Sample `n` completions of a chat (rendered with the chat template) or a raw prompt string.
        A prompt the model cannot take (too long, empty) is a RequestRejected, as a server's 400 would be."""
        try:
            if isinstance(prompt, str):
                prompt_ids = self.engine.encode_text(prompt)
            else:
                prompt_ids = self.engine.encode_chat(prompt)
            generation = await self._batcher.generate(EngineRequest(prompt_ids, params, n=n))
        except RequestError as exc:
            raise RequestRejected(exc.status, str(exc)) from exc
        if not params.logprobs:
            for sample in generation.samples:
                sample.token_logprobs = sample.top_ids = sample.top_tokens = sample.top_logprobs = None
        return generation

    async def score(
        self, prompt: PromptInput, completion: str, top_k: int, draws: int = 0, seed: int | None = None
    ) -> Generation:
        """Teacher-forced log-probabilities of `completion` (see `distillab.models.given`); with `draws`,
        that many ids drawn per completion token (seeded from `seed` and the token ids)."""
        try:
            head, tail = given_tokens(self.engine.tokenizer, prompt, completion)
            [scored] = await asyncio.to_thread(
                score, self.engine.model, [head + tail], top_k=top_k, draws=draws, draw_seed=seed
            )
        except RequestError as exc:
            raise RequestRejected(exc.status, str(exc)) from exc
        start = len(head) - 1  # scored[t] is the log-probability of token t + 1
        top_ids = scored.top_ids[start:].tolist() if scored.top_ids is not None else [[] for _ in tail]
        top_lps = (
            scored.top_logprobs[start:].tolist() if scored.top_logprobs is not None else [[] for _ in tail]
        )
        sample = Sample(
            text=completion,
            finish_reason="stop",
            tokens=[self.engine.vocab.piece(t) for t in tail],
            token_ids=tail,
            token_logprobs=scored.token_logprobs[start:].tolist(),
            top_ids=top_ids,
            top_tokens=[[self.engine.vocab.piece(t) for t in row] for row in top_ids],
            top_logprobs=top_lps,
        )
        if scored.draws is not None:
            sample.draw_ids = scored.draws.ids[start:]
            sample.draw_counts = scored.draws.counts[start:]
            sample.entropy = scored.draws.entropy[start:]
        return Generation(samples=[sample], prompt_tokens=len(head) + len(tail), completion_tokens=0)

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits [B, L, V] (float32) for input_ids [B, L]; see Engine.logits."""
        return self.engine.logits(input_ids, attention_mask)

    async def aclose(self) -> None:
        await self._batcher.aclose()
