"""Train the tiny world's teacher on CPU: tokenizer, model, a plain AdamW loop, evaluation, save.

The recipe: train the tiny world's BPE tokenizer (arith + stdlib text), build a small Llama model,
train it on chat-templated (problem, worked answer) pairs with loss on the answer only, evaluate
(greedy arith accuracy on the test split; held-out loss for text), and save everything with
`save_pretrained`, the way any Hugging Face model is saved.

    from distillab.toy.train_teacher import TeacherConfig, toy_teacher
    teacher_dir = toy_teacher(TeacherConfig(task="arith"))   # built once, then served from the cache

CLI: `distillab toy teacher --task arith --out runs/teacher`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import PreTrainedTokenizerFast, get_cosine_schedule_with_warmup

from distillab.toy import arith, text
from distillab.toy.accuracy import arith_accuracy
from distillab.toy.cache import cached_build
from distillab.toy.config import TeacherConfig
from distillab.toy.chat_data import IGNORE, Example, batches, collate, encode_chats
from distillab.toy.models import SIZES, build_model, count_parameters
from distillab.toy.tokenizer import build_tokenizer

MAX_POOL = 40_000
"""Arith problems tokenised up front; more would only repeat the same ~6k distinct equations."""


def tiny_world_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """The tokenizer every toy teacher shares, trained once on arith problems and stdlib train text."""
    def build(tmp: Path) -> None:
        problems = arith.problems("train", 3000, seed=0)
        corpus = [f"{p.prompt} {p.answer}" for p in problems]
        corpus += [p for p in text.paragraphs() if text.split_of(p) == "train"]
        build_tokenizer(corpus, vocab_size).save_pretrained(tmp)

    return PreTrainedTokenizerFast.from_pretrained(cached_build("tokenizer", {"vocab_size": vocab_size}, build))


def _training_sets(config: TeacherConfig, tokenizer: PreTrainedTokenizerFast) -> list[list[Example]]:
    """One example list per task being trained; batches alternate between them."""
    assert config.steps is not None
    sets = []
    if config.task in ("arith", "mix"):
        pool = arith.problems("train", min(MAX_POOL, config.steps * config.batch_size), seed=config.seed)
        sets.append(encode_chats(tokenizer, [(p.prompt, p.answer) for p in pool], max_length=256))
    if config.task in ("text", "mix"):
        pool_text = text.passages("train", seed=config.seed)[:config.steps * config.batch_size]
        sets.append(encode_chats(tokenizer, [(p.prompt, p.continuation) for p in pool_text], max_length=192))
    return sets


@torch.no_grad()
def heldout_loss(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, pairs: list[tuple[str, str]]) -> float:
    """Mean per-token loss on the answer part of held-out (prompt, answer) pairs."""
    examples = encode_chats(tokenizer, pairs, max_length=192)
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), 32):
        batch = collate(examples[start:start + 32], tokenizer.pad_token_id)
        n = int((batch["labels"][:, 1:] != -100).sum())
        total += float(model(input_ids=batch["input_ids"], labels=batch["labels"]).loss) * n
        count += n
    model.train()
    return total / max(count, 1)


def evaluate(config: TeacherConfig, model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast) -> dict[str, float]:
    """Test-split numbers for the trained tasks: arith accuracy, text held-out loss."""
    results: dict[str, float] = {}
    if config.task in ("arith", "mix") and config.eval_size:
        tests = arith.problems("test", config.eval_size, seed=config.seed)
        results["arith_accuracy"] = arith_accuracy(model, tokenizer, tests)  # type: ignore[arg-type]
    if config.task in ("text", "mix") and config.eval_size:
        passages = text.passages("test", min(config.eval_size, 200), seed=config.seed)
        results["text_loss"] = heldout_loss(model, tokenizer, [(p.prompt, p.continuation) for p in passages])
    return results


def train_teacher(config: TeacherConfig, out: Path, *, progress: bool = True,
                  threads: int | None = None) -> dict[str, Any]:
    """Build, train, evaluate and save a teacher into `out`; returns what `toy_info.json` records."""
    started = time.monotonic()
    assert config.steps is not None
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    try:
        torch.manual_seed(config.seed)
        tokenizer = tiny_world_tokenizer(config.vocab_size)
        model = build_model(tokenizer, SIZES[config.size], seed=config.seed)
        streams = [batches(s, config.batch_size, tokenizer.pad_token_id, config.seed) for s in _training_sets(config, tokenizer)]
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=0.1)
        schedule = get_cosine_schedule_with_warmup(optimizer, math.ceil(config.warmup_fraction * config.steps), config.steps)
        losses, step = _train_loop(config, model, streams, optimizer, schedule, started, progress)
        info: dict[str, Any] = {
            "kind": "teacher", **asdict(config), "steps_done": step, "parameters": count_parameters(model),
            "first_loss": losses[0], "final_loss": sum(losses[-20:]) / len(losses[-20:]),
            "train_seconds": round(time.monotonic() - started, 1),
        }
        info.update(evaluate(config, model, tokenizer))
        info["seconds"] = round(time.monotonic() - started, 1)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / "toy_info.json").write_text(json.dumps(info, indent=2) + "\n")
        return info
    finally:
        torch.set_num_threads(threads_before)


def answer_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over answer tokens (labels != -100), batch["labels"] of shape (batch, seq).

    Logits are computed only from the batch's earliest answer position on (`logits_to_keep`): the
    prompt is most of each sequence and its logits would be thrown away. Right padding under a causal
    mask never lets a real token see a pad, so no attention mask is passed, which keeps attention on
    the fast path.
    """
    labels = batch["labels"]
    first = int((labels != IGNORE).int().argmax(dim=1).min())
    logits = model(input_ids=batch["input_ids"], logits_to_keep=labels.shape[1] - first + 1).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, first:].flatten(),
                                             ignore_index=IGNORE)


def _train_loop(config: TeacherConfig, model: torch.nn.Module, streams: list, optimizer: torch.optim.Optimizer,
                schedule: Any, started: float, progress: bool) -> tuple[list[float], int]:
    """The loop itself: one batch per step, cycling through the task streams."""
    assert config.steps is not None
    deadline = started + 60 * config.max_minutes if config.max_minutes else math.inf
    losses: list[float] = []
    columns = [TextColumn("teacher {task.fields[task]}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(), TimeRemainingColumn()]
    model.train()
    step = 0
    with Progress(*columns, disable=not progress) as bar:
        job = bar.add_task("train", total=config.steps, task=config.task, loss=float("nan"))
        while step < config.steps and (step == 0 or time.monotonic() < deadline):
            batch = next(streams[step % len(streams)])
            loss = answer_loss(model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss.item())
            bar.update(job, advance=1, loss=sum(losses[-20:]) / len(losses[-20:]))
    return losses, step


def toy_teacher(config: TeacherConfig | None = None, *, force: bool = False, progress: bool = True) -> Path:
    """The cached teacher directory for `config` (default: the arith teacher), building it if needed."""
    config = config or TeacherConfig()

    def build(tmp: Path) -> None:
        train_teacher(config, tmp, progress=progress)

    return cached_build(f"teacher-{config.task}-{config.size}", asdict(config), build, force=force)
