"""`echo` on the legacy completions API: the prompt's own tokens, with the model's log-probabilities.

What lm-evaluation-harness's `local-completions` (and every loglikelihood scorer built on the OpenAI API)
needs: it sends context + continuation as the prompt with `echo: true`, `logprobs: 1`, `max_tokens` 0 or
1, and sums `token_logprobs[ctxlen:-1]`. A server without it scores such tasks at chance, silently.

The prompt is scored teacher-forced (`distillab.models.scoring.forward_logits`), in a worker thread, beside
the generation batch. The first token has no context: its log-probability is null, as OpenAI and vLLM
report it. A request's logits processor (the watermark) is applied at every prompt position too, so echoed
log-probabilities are those of the distribution actually served, like generated ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from distillab.models.generate import Engine, LogitsProcessor
from distillab.models.scoring import forward_logits


@dataclass
class Echo:
    """One prompt as echoed: its text and, per token, the log-probability given the tokens before it."""

    text: str
    token_ids: list[int]
    logprobs: list[float | None]
    """None for the first token (nothing to condition on)."""
    top_ids: list[list[int]]
    top_logprobs: list[list[float]]
    """Per token, the k most likely tokens at that position (empty for the first)."""


def echo_prompts(
    engine: Engine,
    prompts: Sequence[list[int]],
    texts: Sequence[str | None],
    top_k: int,
    processor: LogitsProcessor | None = None,
) -> list[Echo]:
    """Score each prompt (token ids) under the model; `texts[i]` None: decode the ids for the text."""
    echoes: list[Echo | None] = [None] * len(prompts)
    for batch in forward_logits(engine.model, prompts, pad_id=engine.pad_id):
        for row, i in enumerate(batch.rows):
            ids = prompts[i]
            logits = batch.logits[row, : len(ids) - 1]  # [t] predicts token t + 1
            if processor is not None and len(ids) > 1:
                logits = processor.apply(
                    logits, [_tail(ids[: t + 1], processor.width) for t in range(len(ids) - 1)]
                )
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            picked = logprobs.gather(-1, torch.as_tensor(ids[1:], device=logprobs.device)[:, None])[:, 0]
            top = logprobs.topk(min(top_k, logprobs.shape[-1]), dim=-1) if top_k else None
            text = texts[i]
            echoes[i] = Echo(
                text=text if text is not None else str(engine.tokenizer.decode(ids)),
                token_ids=list(ids),
                logprobs=[None, *picked.tolist()],
                top_ids=[[], *(top.indices.tolist() if top is not None else [[] for _ in ids[1:]])],
                top_logprobs=[[], *(top.values.tolist() if top is not None else [[] for _ in ids[1:]])],
            )
    return [e for e in echoes if e is not None]


def _tail(ids: list[int], width: int) -> list[int]:
    return ids[max(0, len(ids) - width) :]
