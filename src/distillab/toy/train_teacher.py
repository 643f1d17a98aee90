"""Train the tiny world's teacher on CPU: tokenizer, model, a plain AdamW loop, evaluation, save.

The recipe: take the tiny world's BPE tokenizer (trained once on arith + stdlib text), build a small
Llama model, train it on chat-templated (problem, worked answer) pairs with loss on the answer only,
evaluate (greedy arith accuracy on the test split; held-out loss for text), and save everything with
`save_pretrained`, the way any Hugging Face model is saved.

    from distillab.toy.config import TeacherConfig
    from distillab.toy.train_teacher import toy_teacher
    teacher_dir = toy_teacher(TeacherConfig(task="arith"))   # built once, then served from the cache

CLI: `distillab toy teacher --task arith --out runs/teacher`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from transformers import PreTrainedTokenizerFast, get_cosine_schedule_with_warmup

from distillab.errors import ConfigError
from distillab.toy import arith, text
from distillab.toy.accuracy import evaluate
from distillab.toy.cache import cached_build
from distillab.toy.chat_data import Example, answer_loss, batches, encode_chats
from distillab.toy.config import SIZES, TeacherConfig
from distillab.toy.models import build_model, count_parameters
from distillab.toy.tokenizer import build_tokenizer, whole_numbers

MAX_POOL = 40_000
"""Most arith problems tokenised up front; past this, epochs repeat (there are ~1k distinct facts)."""

Batches = Iterator[dict[str, torch.Tensor]]


def tiny_world_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """The tokenizer every toy teacher shares, trained once (then cached) on arith and stdlib text."""

    def build(tmp: Path) -> None:
        corpus = [f"{p.prompt} {p.answer}" for p in arith.problems("train", 3000, seed=0)]
        corpus += [p for p in text.paragraphs() if text.split_of(p) == "train"]
        build_tokenizer(corpus, vocab_size).save_pretrained(tmp)

    entry = cached_build("tokenizer", {"vocab_size": vocab_size}, build)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(entry)
    if not whole_numbers(tokenizer):
        raise ConfigError(f"vocab_size: {vocab_size} is too small for every number 0-99 to be one token")
    return tokenizer


def training_sets(config: TeacherConfig, tokenizer: PreTrainedTokenizerFast) -> list[list[Example]]:
    """One list of examples per task trained; the loop alternates batches between them."""
    assert config.steps is not None
    wanted = config.steps * config.batch_size
    sets = []
    if config.task in ("arith", "mix"):
        problems = arith.problems("train", min(MAX_POOL, wanted), seed=config.seed)
        sets.append(encode_chats(tokenizer, [(p.prompt, p.answer) for p in problems], max_length=256))
    if config.task in ("text", "mix"):
        passages = text.passages("train", seed=config.seed)[:wanted]
        sets.append(encode_chats(tokenizer, [(p.prompt, p.continuation) for p in passages], max_length=192))
    return sets


def train_teacher(
    config: TeacherConfig, out: Path, *, progress: bool = True, threads: int | None = None
) -> dict[str, Any]:
    """Build, train, evaluate and save a teacher into `out`; returns what `toy_info.json` records.

    `threads`: torch CPU threads (default: every core this process may use). On a busy machine start
    the process with OMP_WAIT_POLICY=PASSIVE (the CLI does), or pass threads=1: spinning OpenMP
    threads that lose their core make a tiny model's many small ops crawl.
    """
    assert config.steps is not None
    started = time.monotonic()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    try:
        tokenizer = tiny_world_tokenizer(config.vocab_size)
        model = build_model(tokenizer, SIZES[config.size], seed=config.seed)
        streams = [
            batches(s, config.batch_size, tokenizer.pad_token_id, config.seed)
            for s in training_sets(config, tokenizer)
        ]
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=config.weight_decay
        )
        warmup = math.ceil(config.warmup_fraction * config.steps)
        schedule = get_cosine_schedule_with_warmup(optimizer, warmup, config.steps)
        deadline = started + 60 * config.max_minutes if config.max_minutes else math.inf
        losses = train_loop(
            model, streams, optimizer, schedule, config.steps, deadline, progress, label=config.task
        )
        info: dict[str, Any] = {
            "kind": "teacher",
            **asdict(config),
            "steps_done": len(losses),
            "parameters": count_parameters(model),
            "first_loss": losses[0],
            "final_loss": sum(losses[-20:]) / len(losses[-20:]),
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


def train_loop(
    model: torch.nn.Module,
    streams: list[Batches],
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    steps: int,
    deadline: float,
    progress: bool,
    label: str,
) -> list[float]:
    """One batch per step, cycling through `streams`, until `steps` or the deadline; returns losses."""
    columns = [
        TextColumn(f"teacher {label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    losses: list[float] = []
    model.train()
    with Progress(*columns, disable=not progress) as bar:
        job = bar.add_task("train", total=steps, loss=float("nan"))
        while len(losses) < steps and (not losses or time.monotonic() < deadline):
            loss = answer_loss(model, next(streams[len(losses) % len(streams)]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.update(job, advance=1, loss=sum(losses[-20:]) / len(losses[-20:]))
    return losses


def toy_teacher(
    config: TeacherConfig | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    threads: int | None = None,
) -> Path:
    """The cached teacher directory for `config` (default: the arith teacher), building it if needed.

    `threads` changes speed, not the result (up to float rounding), so it is not part of the cache key.
    Treat the returned directory as read-only; copy it to change it.
    """
    config = config or TeacherConfig()

    def build(tmp: Path) -> None:
        train_teacher(config, tmp, progress=progress, threads=threads)

    return cached_build(f"teacher-{config.task}-{config.size}", asdict(config), build, force=force)
