"""The generation engine: a Hugging Face causal LM plus a plain batched sampling loop with a KV cache.

Why a hand-written loop instead of `model.generate`: every request in a batch has its own temperature,
top_p, stop strings, token budget and random generator, and we need per-position log-probabilities and
top-k alternatives, streamed as they are produced. The loop is the textbook one:

1. left-pad the distinct prompts, one forward pass over all of them (prefill) with position ids taken from
   the attention mask, so padding changes nothing;
2. copy each prompt's cache row once per sample (`n`);
3. repeat: log-softmax the last logits, sample one token per row, feed the new tokens back; rows that
   finished are dropped from the batch (and the cache) so they cost nothing further.

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

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.cache_utils import Cache

from distillab.errors import RequestError
from distillab.models.load import load_model
from distillab.models.samples import Generation, Sample, SamplingParams
from distillab.models.sampling import sample_token
from distillab.models.text import TextTracker
from distillab.models.vocab import Vocab


class LogitsProcessor(Protocol):
    """Rewrites one row's next-token logits before sampling, from the ids that came before."""

    @property
    def width(self) -> int:
        """How many of the last ids it reads (the engine passes at most these)."""
        ...

    def apply(self, logits: torch.Tensor, previous: Sequence[Sequence[int]]) -> torch.Tensor:
        """float [B, V] logits for rows [B, V] whose preceding ids are `previous[b]`."""
        ...


@dataclass
class TokenEvent:
    """One generated token of one sample, reported while generation runs (for streaming)."""

    index: int
    """Sample index within the request (0..n-1)."""
    token_id: int
    logprob: float
    top_ids: list[int]
    top_logprobs: list[float]
    text: str
    """Text that became visible with this token (may be empty: held back, or a partial character)."""
    finish_reason: str | None
    """"stop" or "length" on the sample's last token, else None."""


@dataclass
class EngineRequest:
    """One prompt to complete `n` times. `on_event` is called from the engine's thread."""

    prompt_ids: list[int]
    params: SamplingParams = field(default_factory=SamplingParams)
    n: int = 1
    on_event: Callable[[TokenEvent], None] | None = None
    cancelled: bool = False
    """Set (from any thread) to stop generating for this request, e.g. when a streaming client left."""
    processor: LogitsProcessor | None = None
    """Applied to this request's logits at every step (e.g. a watermark, `distillab.provenance.watermark`)."""


@dataclass
class _Row:
    """Decoding state of one sample."""

    request: int
    index: int
    max_new: int
    generator: torch.Generator
    text: TextTracker
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_ids: list[list[int]] = field(default_factory=list)
    top_logprobs: list[list[float]] = field(default_factory=list)
    finish_reason: str = "length"

    def to_sample(self, vocab: Vocab) -> Sample:
        return Sample(
            text=self.text.text,
            finish_reason=self.finish_reason,
            tokens=[vocab.piece(t) for t in self.token_ids],
            token_ids=self.token_ids,
            token_logprobs=self.logprobs,
            top_ids=self.top_ids,
            top_tokens=[[vocab.piece(t) for t in ids] for ids in self.top_ids],
            top_logprobs=self.top_logprobs,
        )


class Engine:
    """Generates from a causal LM. Not thread-safe: one `generate` call at a time (the Batcher ensures it)."""

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
        ]
        for bad, message, param in problems:
            if bad:
                raise RequestError(message, param=param)

    # -- generation ------------------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(self, requests: list[EngineRequest]) -> list[Generation]:
        """Complete every request (n samples each) in one batch; results in request order."""
        for request in requests:
            self.check(request)
        rows = [self._new_row(r, i, request) for r, request in enumerate(requests) for i in range(request.n)]
        logits, cache, mask, positions = self._prefill([r.prompt_ids for r in requests])
        expand = torch.tensor([row.request for row in rows], device=self.device)
        cache.batch_select_indices(expand)
        logits, mask, positions = logits[expand], mask[expand], positions[expand]

        active = rows
        while active:
            next_ids, keep = self._step(active, logits, requests)
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                next_ids, mask, positions = next_ids[index], mask[index], positions[index]
                active = [active[i] for i in keep]
            mask = torch.cat([mask, mask.new_ones(len(active), 1)], dim=1)
            positions = positions + 1
            out = self.model(
                input_ids=next_ids[:, None],
                attention_mask=mask,
                position_ids=positions[:, None],
                cache=cache,
                use_cache=True,
            )
            logits = out.logits[:, -1]

        return [
            Generation(
                samples=[row.to_sample(self.vocab) for row in rows if row.request == r],
                prompt_tokens=len(request.prompt_ids),
                completion_tokens=sum(len(row.token_ids) for row in rows if row.request == r),
            )
            for r, request in enumerate(requests)
        ]

    def _new_row(self, r: int, index: int, request: EngineRequest) -> _Row:
        params = request.params
        generator = torch.Generator(device=self.device)
        seed = params.seed + index if params.seed is not None else secrets.randbits(63)
        generator.manual_seed(seed % 2**64)  # any int works; torch accepts 64 bits
        room = self.context_length - len(request.prompt_ids) if self.context_length else params.max_tokens
        return _Row(
            r, index, min(params.max_tokens, room), generator, TextTracker(self.tokenizer, params.stop)
        )

    def _prefill(self, prompts: list[list[int]]) -> tuple[torch.Tensor, Cache, torch.Tensor, torch.Tensor]:
        """Forward the left-padded prompts.

        Returns the last logits [B, V], the cache, the mask [B, L] and the last positions [B].
        """
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for b, prompt in enumerate(prompts):
            ids[b, width - len(prompt) :] = torch.tensor(prompt)
            mask[b, width - len(prompt) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1
        )
        assert out.cache is not None
        return out.logits[:, -1], out.cache, mask, positions[:, -1]

    def _step(
        self, active: list[_Row], logits: torch.Tensor, requests: list[EngineRequest]
    ) -> tuple[torch.Tensor, list[int]]:
        """Sample one token for every active row; return the tokens and the indices of rows still going."""
        logits = _process(logits, [(requests[row.request], row.token_ids) for row in active])
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        k = min(max(requests[row.request].params.top_logprobs for row in active), logprobs.shape[-1])
        top = logprobs.topk(k, dim=-1) if k else None
        next_ids: list[int] = []
        keep: list[int] = []
        for i, row in enumerate(active):
            request = requests[row.request]
            params = request.params
            token = sample_token(logprobs[i], params.temperature, params.top_p, row.generator)
            k_row = params.top_logprobs
            row.token_ids.append(token)
            row.logprobs.append(float(logprobs[i, token]))
            row.top_ids.append(top.indices[i, :k_row].tolist() if top is not None else [])
            row.top_logprobs.append(top.values[i, :k_row].tolist() if top is not None else [])
            next_ids.append(token)

            delta = row.text.push(token)
            stopped = token in self.eos_ids or row.text.stopped
            finished = stopped or len(row.token_ids) >= row.max_new
            if finished:
                row.finish_reason = "stop" if stopped else "length"
                delta += row.text.finish()
            elif request.cancelled:
                row.finish_reason = "abort"
            else:
                keep.append(i)
            if request.on_event is not None:
                request.on_event(
                    TokenEvent(
                        row.index,
                        token,
                        row.logprobs[-1],
                        row.top_ids[-1],
                        row.top_logprobs[-1],
                        delta,
                        row.finish_reason if finished else None,
                    )
                )
        return torch.tensor(next_ids, device=self.device), keep

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


def _process(logits: torch.Tensor, rows: list[tuple[EngineRequest, list[int]]]) -> torch.Tensor:
    """[B, V] logits with each row's request processor applied (rows sharing a processor in one call)."""
    groups: dict[int, list[int]] = {}
    for i, (request, _) in enumerate(rows):
        if request.processor is not None:
            groups.setdefault(id(request.processor), []).append(i)
    if not groups:
        return logits
    logits = logits.float().clone()
    for members in groups.values():
        processor = rows[members[0]][0].processor
        assert processor is not None
        contexts = [_tail(rows[i][0].prompt_ids, rows[i][1], processor.width) for i in members]
        index = torch.tensor(members, device=logits.device)
        logits[index] = processor.apply(logits[index], contexts)
    return logits


def _tail(prompt: list[int], generated: list[int], width: int) -> list[int]:
    """The last `width` ids of prompt + generated, without copying the whole prompt every step."""
    if width <= len(generated):
        return generated[len(generated) - width :]
    return prompt[max(0, len(prompt) - (width - len(generated))) :] + generated


def _eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """Stop ids: generation_config's (may be a list), else the model config's, else the tokenizer's."""
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if value is not None:
            return set(value) if isinstance(value, (list, tuple)) else {int(value)}
    return set()
