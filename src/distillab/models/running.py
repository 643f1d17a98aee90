"""The running batch: the sequences decoded together, which join and leave it between any two steps.

This is continuous batching on a plain Hugging Face model and its `DynamicCache`:

- `add` prefills new requests together (their prompts left-padded among themselves, positions taken from
  the mask, so padding changes nothing), copies each prompt's cache row once per sample (`n`), and joins
  them to the rows already running (`distillab.models.kv_cache.join`: the shorter cache is left-padded).
- `step` samples one token for every row from its pending logits, lets the rows that finished leave (their
  cache rows are dropped, and mask columns that are now padding in every row are cut, so the cache never
  grows past the longest live row), then runs one forward pass over the rest to get their next logits.

A request is done when all its `n` rows are; `step` returns those. The engine's `generate` runs one batch
to the end; the asyncio `Batcher` keeps one running and feeds it between steps.

Sampling is per row, as before it was per batch: each row has its own `torch.Generator` (seeded with
`seed + sample index`, vLLM's rule for n > 1), temperature, top_p, stop strings and token budget, so a
seeded request gives the same text whatever shares its batch and whenever it joined (up to the
floating-point differences that batch shape and padding can cause in the forward pass). Log-probabilities
are the model's own, `log_softmax(logits)` after the request's logits processor and before temperature and
top_p (see `distillab.models.generate`). A request with `draws` also has, per row, ids drawn from that same
distribution by a second generator (`distillab.models.draws`), so asking for them changes no text.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from transformers.cache_utils import Cache

from distillab.models.draws import draw, draw_generator
from distillab.models.kv_cache import join, joinable, trim_padding
from distillab.models.requests import EngineRequest, TokenEvent
from distillab.models.samples import Generation, Sample
from distillab.models.sampling import sample_token
from distillab.models.text import TextTracker
from distillab.models.vocab import Vocab

if TYPE_CHECKING:
    from distillab.models.generate import Engine


@dataclass(eq=False)
class Admitted:
    """One request in a running batch: its rows, and its generation once the last row finished."""

    request: EngineRequest
    rows: list[_Row] = field(default_factory=list)
    generation: Generation | None = None

    def result(self) -> Generation:
        assert self.generation is not None, "the request is still running"
        return self.generation


@dataclass(eq=False)
class _Row:
    """Decoding state of one sample."""

    admitted: Admitted
    index: int
    max_new: int
    generator: torch.Generator
    text: TextTracker
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_ids: list[list[int]] = field(default_factory=list)
    top_logprobs: list[list[float]] = field(default_factory=list)
    draw_generator: torch.Generator | None = None
    """Set when the request asks for draws: seeded from the row's seed and prompt, apart from `generator`."""
    draw_ids: list[list[int]] = field(default_factory=list)
    draw_counts: list[list[int]] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    finish_reason: str | None = None

    def to_sample(self, vocab: Vocab) -> Sample:
        assert self.finish_reason is not None, "the row is still decoding"
        return Sample(
            text=self.text.text,
            finish_reason=self.finish_reason,
            tokens=[vocab.piece(t) for t in self.token_ids],
            token_ids=self.token_ids,
            token_logprobs=self.logprobs,
            top_ids=self.top_ids,
            top_tokens=[[vocab.piece(t) for t in ids] for ids in self.top_ids],
            top_logprobs=self.top_logprobs,
            draw_ids=self.draw_ids if self.draw_generator is not None else None,
            draw_counts=self.draw_counts if self.draw_generator is not None else None,
            entropy=self.entropy if self.draw_generator is not None else None,
        )


class RunningBatch:
    """Rows being decoded together over one engine. Not thread-safe: one `add` or `step` at a time."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.rows: list[_Row] = []
        """The rows still decoding, in cache order."""
        self.steps = 0
        """Decoding steps run (each samples one token for every row)."""
        self.row_steps = 0
        """Rows summed over those steps: `row_steps / steps` is the mean batch size."""
        self._cache: Cache | None = None
        self._mask = torch.empty(0, 0, dtype=torch.long)
        """[B, L] attention mask over the cache's columns plus, after a step, the new token's."""
        self._positions = torch.empty(0, dtype=torch.long)
        """[B] position of each row's newest token."""
        self._logits = torch.empty(0, 0)
        """[B, V] next-token logits waiting to be sampled."""

    @property
    def width(self) -> int:
        """Attention-mask columns: the longest live row's length once the rows that left are trimmed away."""
        return self._mask.shape[1]

    @property
    def can_join(self) -> bool:
        """Whether `add` may join new rows now: the batch is empty, or its cache can be concatenated."""
        return not self.rows or (self._cache is not None and joinable(self._cache))

    @torch.inference_mode()
    def add(self, requests: list[EngineRequest]) -> list[Admitted]:
        """Prefill `requests` (already `Engine.check`ed) and join their n rows each to the running rows.

        The running state changes only once everything that can fail has run, so a failure here concerns
        these requests alone.
        """
        assert requests and self.can_join
        admitted = [Admitted(request) for request in requests]
        for entry in admitted:
            entry.rows = [self._new_row(entry, i) for i in range(entry.request.n)]
        logits, cache, mask, positions = self._prefill([r.prompt_ids for r in requests])
        expand = torch.tensor(
            [k for k, entry in enumerate(admitted) for _ in entry.rows], device=self.engine.device
        )
        cache.batch_select_indices(expand)
        logits, mask, positions = logits[expand], mask[expand], positions[expand]
        if self.rows:
            assert self._cache is not None
            logits = torch.cat([self._logits, logits])
            positions = torch.cat([self._positions, positions])
            mask = join(self._cache, self._mask, cache, mask)  # last: it changes the running cache
            cache = self._cache
        self._cache, self._mask, self._positions, self._logits = cache, mask, positions, logits
        self.rows += [row for entry in admitted for row in entry.rows]
        return admitted

    @torch.inference_mode()
    def step(self) -> list[Admitted]:
        """Sample a token for every row, let finished rows leave, run the model on the others.

        Returns the requests whose last row finished in this step (their `generation` is set). After an
        exception the state is undefined: `clear` it and fail the requests that were in it.
        """
        assert self.rows and self._cache is not None
        self.steps += 1
        self.row_steps += len(self.rows)
        next_ids, keep, done = self._sample()
        if not keep:
            self.clear()
            return done
        mask, positions = self._mask, self._positions
        if len(keep) < len(self.rows):
            index = torch.tensor(keep, device=self.engine.device)
            self._cache.batch_select_indices(index)
            next_ids, mask, positions = next_ids[index], mask[index], positions[index]
            self.rows = [self.rows[i] for i in keep]
            if joinable(self._cache):
                mask = trim_padding(self._cache, mask)
        mask = torch.cat([mask, mask.new_ones(len(self.rows), 1)], dim=1)
        positions = positions + 1
        out = self.engine.model(
            input_ids=next_ids[:, None],
            attention_mask=mask,
            position_ids=positions[:, None],
            cache=self._cache,
            use_cache=True,
        )
        self._mask, self._positions, self._logits = mask, positions, out.logits[:, -1]
        return done

    def clear(self) -> None:
        """Drop every row and the cache (after the last row left, or after a failed step)."""
        self.rows = []
        self._cache = None
        self._mask = self._mask[:0, :0]
        self._positions = self._positions[:0]
        self._logits = self._logits[:0]

    def _new_row(self, admitted: Admitted, index: int) -> _Row:
        params = admitted.request.params
        generator = torch.Generator(device=self.engine.device)
        seed = params.seed + index if params.seed is not None else secrets.randbits(63)
        generator.manual_seed(seed % 2**64)  # any int works; torch accepts 64 bits
        context = self.engine.context_length
        room = context - len(admitted.request.prompt_ids) if context else params.max_tokens
        return _Row(
            admitted,
            index,
            min(params.max_tokens, room),
            generator,
            TextTracker(self.engine.tokenizer, params.stop),
            draw_generator=(
                draw_generator(
                    params.seed + index if params.seed is not None else None,
                    admitted.request.prompt_ids,
                    self.engine.device,
                )
                if params.draws
                else None
            ),
        )

    def _prefill(self, prompts: list[list[int]]) -> tuple[torch.Tensor, Cache, torch.Tensor, torch.Tensor]:
        """Forward the left-padded prompts.

        Returns the last logits [B, V], the cache, the mask [B, L] and the last positions [B].
        """
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.engine.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for b, prompt in enumerate(prompts):
            ids[b, width - len(prompt) :] = torch.tensor(prompt)
            mask[b, width - len(prompt) :] = 1
        ids, mask = ids.to(self.engine.device), mask.to(self.engine.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.engine.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1
        )
        assert out.cache is not None
        return out.logits[:, -1], out.cache, mask, positions[:, -1]

    def _sample(self) -> tuple[torch.Tensor, list[int], list[Admitted]]:
        """Sample one token for every row and report it.

        Returns the tokens [B], the indices of the rows still going, and the requests now done.
        """
        logits = _process(self._logits, self.rows)
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        k = min(max(row.admitted.request.params.top_logprobs for row in self.rows), logprobs.shape[-1])
        top = logprobs.topk(k, dim=-1) if k else None
        next_ids: list[int] = []
        keep: list[int] = []
        done: list[Admitted] = []
        for i, row in enumerate(self.rows):
            request = row.admitted.request
            params = request.params
            token = sample_token(logprobs[i], params.temperature, params.top_p, row.generator)
            k_row = params.top_logprobs
            row.token_ids.append(token)
            row.logprobs.append(float(logprobs[i, token]))
            row.top_ids.append(top.indices[i, :k_row].tolist() if top is not None else [])
            row.top_logprobs.append(top.values[i, :k_row].tolist() if top is not None else [])
            if row.draw_generator is not None:
                drawn = draw(logprobs[i : i + 1], params.draws, row.draw_generator)
                row.draw_ids += drawn.ids
                row.draw_counts += drawn.counts
                row.entropy += drawn.entropy
            next_ids.append(token)

            delta = row.text.push(token)
            stopped = token in self.engine.eos_ids or row.text.stopped
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
            if row.finish_reason is not None and all(r.finish_reason is not None for r in row.admitted.rows):
                done.append(self._finish(row.admitted))
        return torch.tensor(next_ids, device=self.engine.device), keep, done

    def _finish(self, admitted: Admitted) -> Admitted:
        rows = admitted.rows
        admitted.generation = Generation(
            samples=[row.to_sample(self.engine.vocab) for row in rows],
            prompt_tokens=len(admitted.request.prompt_ids),
            completion_tokens=sum(len(row.token_ids) for row in rows),
        )
        return admitted


def _process(logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
    """[B, V] logits with each row's request processor applied (rows sharing a processor in one call)."""
    groups: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        if row.admitted.request.processor is not None:
            groups.setdefault(id(row.admitted.request.processor), []).append(i)
    if not groups:
        return logits
    logits = logits.float().clone()
    for members in groups.values():
        processor = rows[members[0]].admitted.request.processor
        assert processor is not None
        contexts = [
            _tail(rows[i].admitted.request.prompt_ids, rows[i].token_ids, processor.width) for i in members
        ]
        index = torch.tensor(members, device=logits.device)
        logits[index] = processor.apply(logits[index], contexts)
    return logits


def _tail(prompt: list[int], generated: list[int], width: int) -> list[int]:
    """The last `width` ids of prompt + generated, without copying the whole prompt every step."""
    if width <= len(generated):
        return generated[len(generated) - width :]
    return prompt[max(0, len(prompt) - (width - len(generated))) :] + generated
