"""`distillab prove radioactivity`: was the suspect model trained on text carrying our watermark?

    results = run_radioactivity(RadioactivityConfig(suspect="runs/student", texts=Path("runs/marked"),
                                                    key_file=Path("watermark.key"), out=Path("runs/radio")))

A student trained on watermarked text learns a little of the watermark: after a context, it prefers
that context's green tokens (Sander et al. 2024, "Watermarking Makes Language Models Radioactive").

- **Open mode** (the suspect's weights): the suspect reads texts under teacher forcing and, at every
  position, its own most likely next token is scored with the context window taken from the text.
- **Closed mode** (only an API): the suspect completes prompts and its completions are scored.

Either way each distinct (context, token) pair is scored once and the green count gets an exact
binomial p-value (`distillab.provenance.detect`). Two rules keep that p-value honest:

1. Deduplication. A suspect predicts the same token after the same context again and again; each
   repeat is the same coin flip, not new evidence.
2. Pairs the suspect could have copied are not scored: the pairs that occur in the texts it reads (open
   mode), in the prompts (closed mode) or in --filter-texts. Watermarked text makes its own pairs green
   more often than gamma, and any decent language model (trained on our text or not) predicts many of the
   same tokens after the same contexts, so scoring them would make an innocent model look radioactive.
   Every other pair's colour is independent of whatever the suspect saw, or (when the text was
   watermarked and chose another token there) at most as likely green as gamma, so the test stays exact
   or conservative whatever the texts are.

Several keys (per-account keys) get one test each, with Holm-adjusted p-values: the accounts whose
adjusted p is below alpha are flagged while the chance of flagging any innocent account stays below
alpha, whatever the dependence between the tests. The smallest adjusted p-value is the p-value of
"some key leaked" (Bonferroni). Fisher's combination would be more powerful when many keys leaked,
but it names no account and needs independent tests. Several text or prompt sets under one key are
pooled: the union of their distinct pairs is one exact test. The tests' wording and the Holm step are
in `distillab.provenance.radioactivity_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from distillab.data.prompts import file_sha256, read_prompts
from distillab.data.records import prompt_key
from distillab.errors import ConfigError, DataError
from distillab.logit_batches import LOGITS_BUDGET
from distillab.models.load import load_tokenizer
from distillab.models.scoring import forward_logits
from distillab.provenance.detect import Tally, pairs, tally
from distillab.provenance.evidence import TestResult
from distillab.provenance.keys import derive, load_key
from distillab.provenance.radioactivity_config import DEFAULT_PROMPTS, RadioactivityConfig
from distillab.provenance.radioactivity_results import radioactivity_results
from distillab.provenance.report import write_evidence
from distillab.provenance.texts import read_texts
from distillab.provenance.watermark import Watermark, mix64

UNMARKED_MAX_P = 1e-3
"""--unmarked-texts is refused when the texts show a tested key's watermark at this level."""

__all__ = ["RadioactivityConfig", "run_radioactivity", "score_keys", "suspect_predictions"]


# -- what gets scored ------------------------------------------------------------------------------------


@torch.inference_mode()
def suspect_predictions(
    model: PreTrainedModel,
    sequences: Sequence[Sequence[int]],
    width: int,
    *,
    top_k: int = 1,
    batch_size: int = 8,
    max_length: int = 512,
    reference: PreTrainedModel | None = None,
    candidates: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Open mode: (windows [N, width], predicted [N]) for every position of every sequence, `top_k` rows each.

    The suspect reads each sequence (cut into pieces of `max_length`) under teacher forcing; at position
    i its `top_k` most likely next tokens are each paired with the window of the `width` text tokens
    ending at i. (A suspect that learned the mark ranks green tokens higher, so they are over-represented
    among its top few, not only at the top; which tokens are scored never depends on the key.)

    With a `reference` model (trained without the marked text: the suspect's base model, or a model of
    your own trained on unmarked text), the `top_k` tokens are those of the suspect's `candidates` most
    likely whose log-probability rises most over the reference's. What any language model predicts
    there cancels out and what the suspect learned beyond it stands out, the mark included; the choice
    still never depends on the key.
    """
    pieces = [
        list(seq[start : start + max_length])
        for seq in sequences
        for start in range(0, len(seq), max_length)
        if len(seq[start : start + max_length]) >= max(width, 1)
    ]
    windows, predicted = [], []
    budget = LOGITS_BUDGET // 2 if reference is not None else LOGITS_BUDGET  # two models' logits at once
    for scored in forward_logits(model, pieces, batch_size=batch_size, budget=budget):
        logits = scored.logits
        if reference is None:
            best = logits.topk(top_k, dim=-1).indices.cpu().numpy()  # [B, L, k]
        else:
            theirs = reference(
                input_ids=scored.input_ids.to(reference.device),
                attention_mask=scored.attention_mask.to(reference.device),
            ).logits.to(logits.device)
            best = _rising(logits, theirs, top_k, candidates).cpu().numpy()
        batch = [pieces[g] for g in scored.rows]
        for row, piece in enumerate(batch):
            arr = np.asarray(piece, dtype=np.int64)
            positions = np.arange(max(width - 1, 0), len(piece))
            window = (
                np.stack([arr[positions - width + 1 + j] for j in range(width)], axis=1)
                if width
                else np.zeros((len(positions), 0), dtype=np.int64)
            )
            windows.append(np.repeat(window, top_k, axis=0))
            predicted.append(best[row, positions].reshape(-1))
    if not predicted:
        return np.zeros((0, width), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(windows), np.concatenate(predicted).astype(np.int64)


def _rising(
    logits: torch.Tensor, reference_logits: torch.Tensor, top_k: int, candidates: int
) -> torch.Tensor:
    """Of the suspect's `candidates` most likely tokens at each position, the `top_k` whose log-probability
    exceeds the reference's by most: [B, L, top_k] token ids."""
    # log-probability = logit - logsumexp(logits), taken only at the candidates: no log-softmax copies.
    pool = logits.topk(max(candidates, top_k), dim=-1).indices
    own = logits.gather(-1, pool).float() - torch.logsumexp(logits.float(), dim=-1, keepdim=True)
    theirs = reference_logits.gather(-1, pool).float() - torch.logsumexp(
        reference_logits.float(), dim=-1, keepdim=True
    )
    rise = own - theirs
    return pool.gather(-1, rise.topk(top_k, dim=-1).indices)


def _window_ids(windows: np.ndarray) -> np.ndarray:
    """An (unkeyed) 64-bit id per window row, for "does this context occur there" filters."""
    ids = np.full(len(windows), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for j in range(windows.shape[1]):
        ids = mix64(ids ^ mix64(windows[:, j].astype(np.uint64) + np.uint64(j + 1)))
    return ids


def score_keys(
    marks: Sequence[Watermark],
    windows: np.ndarray,
    tokens: np.ndarray,
    *,
    seen: Sequence[Sequence[int]] = (),
    filter_to: Sequence[Sequence[int]] | None = None,
) -> list[Tally]:
    """Tallies per key of the suspect's (window, token) pairs, deduplicated.

    `seen`: token sequences the suspect read or was prompted with; their own pairs are not scored.
    `filter_to`: when given, score only windows that occur in these sequences (and not their pairs).
    """
    if filter_to is not None and len(windows) and windows.shape[1]:
        wanted = _window_ids(pairs(filter_to, windows.shape[1])[0])
        keep = np.isin(_window_ids(windows), wanted)
        windows, tokens = windows[keep], tokens[keep]
    copyable = [*seen, *(filter_to or ())]
    out = []
    for mark in marks:
        seen_windows, seen_tokens = pairs(copyable, mark.width)
        exclude = mark.hashes(seen_windows, seen_tokens) if len(seen_tokens) else None
        out.append(tally(mark, windows, tokens, exclude=exclude))
    return out


# -- the command -----------------------------------------------------------------------------------------


def marks_for(config: RadioactivityConfig) -> list[Watermark]:
    """The keys to test: the default key, or the per-account keys of --account and --db."""
    master = load_key(config.key_file)
    if master is None:
        raise ConfigError("a watermark key is needed: --key-file FILE or $DISTILLAB_WATERMARK_KEY")
    accounts = list(config.accounts)
    if config.db is not None:
        from distillab.db.store import Store

        with Store(config.db, create=False) as store:
            accounts += [a.name for a in store.list_accounts() if a.name not in accounts]
        if not accounts:
            raise ConfigError(f"--db {config.db}: the store has no accounts")
    if not accounts:
        return [Watermark(config.watermark, derive(master))]
    return [Watermark(config.watermark, derive(master, a), account=a) for a in accounts]


def check_unmarked(sequences: Sequence[Sequence[int]], marks: Sequence[Watermark], where: str) -> None:
    """Refuse texts declared unmarked that show one of the keys (a wrong declaration would bias the test)."""
    from distillab.provenance.detect import detect

    for mark in marks:
        p = detect(sequences, mark).p_value
        if p < UNMARKED_MAX_P:
            raise ConfigError(
                f"--unmarked-texts: {where} carries the watermark of key {mark.key_id}"
                + (f" (account {mark.account})" if mark.account else "")
                + f" (p = {p:.2g}); "
                "read them without --unmarked-texts"
            )


def _encode(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> list[list[int]]:
    return [list(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]


def _check_tokenizer(config: RadioactivityConfig, suspect: PreTrainedTokenizerBase) -> None:
    if config.tokenizer is None:
        return
    theirs = load_tokenizer(config.tokenizer)
    if theirs.get_vocab() != suspect.get_vocab():
        raise ConfigError(
            f"--tokenizer {config.tokenizer}: the suspect {config.suspect} uses a different "
            "vocabulary, so its token ids cannot be scored under this watermark; use closed mode"
        )


def _open(
    config: RadioactivityConfig, marks: list[Watermark], filter_to: list[list[int]] | None, console: Console
) -> tuple[list[Tally], dict[str, int]]:
    from distillab.models.load import load_model

    assert config.texts is not None
    model, tokenizer = load_model(config.suspect, device=config.device)
    _check_tokenizer(config, tokenizer)
    texts = read_texts(config.texts)
    if not texts:
        raise DataError(f"{config.texts}: no texts to read")
    sequences = _encode(tokenizer, texts)
    console.print(
        f"open mode: {config.suspect} reads {len(texts)} texts ({sum(map(len, sequences))} tokens)",
        markup=False,
        highlight=False,
    )
    if config.unmarked_texts:
        check_unmarked(sequences, marks, str(config.texts))
    reference = None
    if config.reference is not None:
        reference, reference_tokenizer = load_model(config.reference, device=config.device)
        if reference_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise ConfigError(
                f"--reference {config.reference}: its vocabulary differs from the suspect's "
                f"({config.suspect}); the reference must share the suspect's tokenizer"
            )
    windows, predicted = suspect_predictions(
        model,
        sequences,
        marks[0].width,
        top_k=config.top_k,
        batch_size=config.batch_size,
        max_length=config.max_length,
        reference=reference,
        candidates=config.candidates,
    )
    sizes = {"texts": len(texts), "tokens": sum(len(s) for s in sequences)}
    seen = [] if config.unmarked_texts else sequences
    return score_keys(marks, windows, predicted, seen=seen, filter_to=filter_to), sizes


def _closed(
    config: RadioactivityConfig, marks: list[Watermark], filter_to: list[list[int]] | None, console: Console
) -> tuple[list[Tally], dict[str, int], Path]:
    from distillab.provenance.samples import sample

    assert config.tokenizer is not None
    tokenizer = load_tokenizer(config.tokenizer)
    if config.prompts is None:
        from distillab.toy.prompts import prompt_rows, write_rows

        prompts = write_rows(prompt_rows("text", "test", DEFAULT_PROMPTS), config.out / "prompts.jsonl")
    else:
        prompts = config.prompts
    rows = read_prompts(prompts)
    console.print(
        f"closed mode: sampling {config.suspect}, {config.samples} completions of {len(rows)} prompts",
        markup=False,
        highlight=False,
    )
    completions = sample(
        config.suspect,
        prompts,
        config.out / "samples",
        n=config.samples,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        concurrency=config.concurrency,
        api_key_env=config.api_key_env,
        max_retries=config.max_retries,
        timeout=config.timeout,
        progress=config.progress,
        console=console,
    )
    texts = [c for row in rows for c in completions.get(prompt_key(row), [])]
    if not texts:
        raise DataError(f"{config.suspect} returned no completions for the prompts in {prompts}")
    prompt_texts = [
        row.input if isinstance(row.input, str) else "\n".join(m["content"] for m in row.input)
        for row in rows
    ]
    sequences = _encode(tokenizer, texts)
    windows, tokens = pairs(sequences, marks[0].width)
    sizes = {"prompts": len(rows), "texts": len(texts), "tokens": sum(len(s) for s in sequences)}
    tallies = score_keys(marks, windows, tokens, seen=_encode(tokenizer, prompt_texts), filter_to=filter_to)
    return tallies, sizes, prompts


def run_radioactivity(config: RadioactivityConfig, *, console: Console | None = None) -> list[TestResult]:
    """Score the suspect for every key, write OUT/evidence.json and OUT/evidence.html, return the tests."""
    console = console or Console(stderr=True)
    marks = marks_for(config)
    config.out.mkdir(parents=True, exist_ok=True)
    mode = config.resolved_mode
    filter_to = None
    if config.filter_texts is not None:
        tokenizer_dir = config.tokenizer or Path(config.suspect)
        filter_to = _encode(load_tokenizer(tokenizer_dir), read_texts(config.filter_texts))
    details: dict[str, Any] = {}
    if mode == "open":
        tallies, sizes = _open(config, marks, filter_to, console)
        assert config.texts is not None
        details.update(texts=str(config.texts), unmarked_texts=config.unmarked_texts, top_k=config.top_k)
        if config.reference is not None:
            details.update(reference=str(config.reference), candidates=config.candidates)
    else:
        tallies, sizes, prompts = _closed(config, marks, filter_to, console)
        details.update(
            prompts_file=f"{prompts} ({file_sha256(prompts)})",
            samples_per_prompt=config.samples,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
        )
    if config.filter_texts is not None:
        details["filter_texts"] = str(config.filter_texts)
    results = radioactivity_results(
        mode, marks, tallies, sample_sizes=sizes, alpha=config.alpha, suspect=config.suspect, details=details
    )
    write_evidence(results, config.out, title=f"Radioactivity of {config.suspect}")
    return results
