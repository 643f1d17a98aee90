"""The generation engine: a Hugging Face causal LM plus a plain sampling loop with a KV cache.

Why a hand-written loop instead of `model.generate`: every request in a batch has its own temperature,
top_p, stop strings, token budget and random generator, sequences join and leave the batch between steps
(continuous batching, `distillab.models.running`), and we need per-position log-probabilities and top-k
alternatives, streamed as they are produced. The loop is the textbook one:

1. left-pad the distinct prompts, one forward pass over all of them (prefill) with position ids taken from
   the attention mask, so padding changes nothing;
2. copy each prompt's cache row once per sample (`n`);
3. repeat: log-softmax the last logits, sample one token per row, feed the new tokens back; rows that
   finished are dropped from the batch (and the cache) so they cost nothing further, and new rows may join.

`Engine.generate` runs a list of requests to the end this way; `distillab.models.batcher.Batcher` keeps one
batch running and lets requests join it as they arrive. Both go through the same `RunningBatch`.

Log-probabilities: every reported log-probability (sampled token and top-k) is from the model's own
distribution, `log_softmax(logits)`, *before* temperature and top_p. This is vLLM's default
("raw_logprobs"); OpenAI does not document its choice, but its logprobs are observed not to move with
temperature. It is also the signal distillation wants: the teacher's distribution, not our sampling knobs.

Logits processors: a request may carry a `processor` that rewrites its next-token logits, given the ids
before them (prompt included), before anything else. So temperature and top_p then shape the processed
distribution, greedy decoding picks its argmax, and the reported log-probabilities are those of the
distribution actually served: they never reveal the unprocessed one. The watermark
(`distillab.provenance.watermark.Watermark`) is one; serving passes it in per account.

Seeds: each sample draws from its own `torch.Generator`, seeded with `seed + sample_index` (vLLM's rule for
n > 1), so a seeded request gives the same text whatever else shares its batch (up to floating-point
differences padding can cause in the forward pass).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distillab.errors import RequestError
from distillab.models.load import load_model
from distillab.models.requests import EngineRequest, LogitsProcessor, TokenEvent
from distillab.models.running import RunningBatch
from distillab.models.samples import Generation
from distillab.models.vocab import Vocab

__all__ = ["Engine", "EngineRequest", "LogitsProcessor", "TokenEvent"]


class Engine:
    """Generates from a causal LM. Not thread-safe: one `generate` call or batch step at a time."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, name_or_path: str = ""):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name_or_path = name_or_path or str(getattr(model, "name_or_path", "") or "model")
        self.vocab = Vocab(tokenizer)
        self.device = next(model.parameters()).device
        self.eos_ids = _eos_ids(model, tokenizer)
        self.pad_id = next((i for i in (tokenizer.pad_token_id, *sorted(self.eos_ids)) if i is not None), 0)
        self.context_length: int | None = getattr(model.config, "max_position_embeddings", None)
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto", dtype: str = "auto") -> Engine:
        """Load a Hugging Face causal LM directory (model + tokenizer); raises ModelError naming the path."""
        model, tokenizer = load_model(path, device=device, dtype=dtype)
        return cls(model, tokenizer, name_or_path=str(path))

    # -- prompts ---------------------------------------------------------------------------------------

    def encode_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> list[int]:
        """Render messages with the tokenizer's chat template (generation prompt added) and tokenize."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise RequestError(
                f"the tokenizer of {self.name_or_path} has no chat template; "
                "use /v1/completions with a raw prompt",
                param="messages",
            )
        try:
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt
            )
        except Exception as exc:  # jinja raises for messages a template rejects (e.g. role order)
            raise RequestError(f"chat template rejected the messages: {exc}", param="messages") from exc
        return list(self.tokenizer(str(text), add_special_tokens=False)["input_ids"])

    def encode_text(self, prompt: str) -> list[int]:
        """Tokenize a raw completion prompt, with the tokenizer's usual special tokens (e.g. BOS)."""
        return list(self.tokenizer(prompt)["input_ids"])

    def check(self, request: EngineRequest) -> None:
        """Reject what `generate` cannot serve, before it joins a batch (so it cannot fail its neighbours)."""
        if not request.prompt_ids:
            raise RequestError("the prompt is empty", param="prompt")
        if any(not 0 <= t < self.vocab_size for t in request.prompt_ids):
            raise RequestError(f"prompt token ids must be in [0, {self.vocab_size})", param="prompt")
        if self.context_length is not None and len(request.prompt_ids) >= self.context_length:
            raise RequestError(
                f"the prompt has {len(request.prompt_ids)} tokens; this model's context "
                f"length is {self.context_length}",
                param="messages",
                code="context_length_exceeded",
            )
        params = request.params
        problems = [
            (request.n < 1, "n must be at least 1", "n"),
            (params.temperature < 0, "temperature must be >= 0", "temperature"),
            (not 0 < params.top_p <= 1, "top_p must be in (0, 1]", "top_p"),
            (params.max_tokens < 1, "max_tokens must be at least 1", "max_tokens"),
            (params.top_logprobs < 0, "top_logprobs must be >= 0", "top_logprobs"),
            (params.draws < 0, "draws must be >= 0", "draws"),
        ]
        for bad, message, param in problems:
            if bad:
                raise RequestError(message, param=param)

    # -- generation ------------------------------------------------------------------------------------

    def generate(self, requests: list[EngineRequest]) -> list[Generation]:
        """Complete every request (n samples each) in one batch run to its end; results in request order."""
        for request in requests:
            self.check(request)
        if not requests:
            return []
        batch = RunningBatch(self)
        admitted = batch.add(requests)
        while batch.rows:
            batch.step()
        return [entry.result() for entry in admitted]

    # -- teacher forcing -------------------------------------------------------------------------------

    @torch.inference_mode()
    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits at every position under teacher forcing.

        input_ids: [B, L] token ids (left or right padded); attention_mask: [B, L], 1 for real tokens
        (default all ones). Returns float32 [B, L, V] on the model's device, where [b, t] is the
        distribution of token t+1 given tokens 0..t. Positions come from the mask, so padding on either
        side gives the same logits at real positions.
        """
        ids = input_ids.to(self.device)
        mask = torch.ones_like(ids) if attention_mask is None else attention_mask.to(self.device)
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False)
        return out.logits.float()


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """Stop ids: generation_config's (may be a list), else the model config's, else the tokenizer's."""
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if value is not None:
            return set(value) if isinstance(value, (list, tuple)) else {int(value)}
    return set()
