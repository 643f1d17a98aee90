"""Everything a training run needs before its first step, in the order that makes mistakes cheap.

1. the harvest (``DataError`` naming the path when missing or empty);
2. the loss against the signal the run has (``check_loss``: "... losses that work: sft");
3. the tokenizers: the student's, and the teacher's (``--teacher``'s, or the one the harvest recorded);
4. encoding every record, and with a distillation loss checking that the student's tokens line up
   with the teacher's;
5. only then the student (with LoRA if asked) and the teacher weights.

A teacher tokenizer that differs from the student's makes the run cross-tokenizer
(``distillab.train.xtok``, ``--cross-tokenizer``): known up front from ``--teacher`` or the harvest's
manifest, or found at step 4 when re-tokenising reproduces under ``MIN_ALIGNED`` of a harvest's token
strings. A ``--teacher`` with another tokenizer scores the records once, before training, instead of
running beside the student.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from distillab.errors import ConfigError, DataError, ModelError
from distillab.models.load import load_model, load_tokenizer, model_dir, resolve_device
from distillab.models.vocab import Vocab
from distillab.train.config import TrainConfig
from distillab.train.dataset import Harvest, load_harvest, split_by_prompt
from distillab.train.encode import EncodeStats, Example, encode_records
from distillab.train.losses import Signal, check_loss, losses_for
from distillab.train.online import OnlineTeacher
from distillab.train.vocab import same_tokenizer
from distillab.train.xtok import (
    CrossStats,
    TeacherSide,
    attach_cross,
    score_sides,
    side_from_record,
    top_k_of,
)

MIN_ALIGNED = 0.5
"""Below this share of teacher tokens reproduced by the student's tokenizer, it is another tokenizer."""


@dataclass
class Setup:
    """The loaded pieces of a run. ``teacher`` is set only for online distillation."""

    harvest: Harvest
    signal: Signal
    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel
    train: list[Example]
    eval: list[Example]
    stats: EncodeStats
    pad_id: int
    save_dtype: torch.dtype
    """The student's dtype on disk: it trains in fp32 (master weights) and is saved back in its own dtype."""
    teacher: OnlineTeacher | None = None
    warnings: list[str] = field(default_factory=list)
    cross: str | None = None
    """The cross-tokenizer method that runs (align, uld, sft), None when the tokenizers agree."""
    cross_stats: CrossStats | None = None

    @property
    def top_k(self) -> int:
        return self.stats.top_k


def _tokenizer(config: TrainConfig) -> PreTrainedTokenizerBase:
    return load_tokenizer(config.student)


def _student_config(config: TrainConfig) -> tuple[int, torch.dtype]:
    """The student's number of output rows (may exceed its tokenizer's length) and saved dtype."""
    try:
        model_config = AutoConfig.from_pretrained(model_dir(config.student))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{config.student / 'config.json'}: not a readable model config ({exc})") from exc
    dtype = getattr(model_config, "dtype", None)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    rows = int(model_config.get_text_config().vocab_size)
    return rows, dtype if isinstance(dtype, torch.dtype) else torch.float32


def _check_alignment(stats: EncodeStats, harvest: Harvest, config: TrainConfig, rows: int) -> list[str]:
    """``ConfigError`` when the student's tokenizer is not the teacher's; else warnings about the data."""
    if stats.aligned_fraction < MIN_ALIGNED:
        raise ConfigError(
            f"the student's tokenizer ({config.student}) is not the one the harvest's teacher "
            f"{harvest.describe_teacher()} used: re-tokenising the completions reproduces only "
            f"{stats.aligned_fraction:.0%} of the teacher's tokens, and the harvest holds the teacher's "
            "token ids without its tokenizer, so they cannot be read as text for cross-tokenizer "
            "distillation (harvests from a local teacher record it; or pass --teacher); losses that work: "
            f"{', '.join(losses_for('text'))}"
        )
    notes = []
    if stats.trimmed_records:
        notes.append(
            f"{stats.trimmed_records} of {stats.records} records: the student's tokenisation "
            f"departs from the teacher's partway, so their teacher signal stops there "
            f"({stats.aligned_fraction:.1%} of teacher tokens kept)"
        )
    if stats.ids_beyond_vocab:
        notes.append(
            f"{stats.ids_beyond_vocab} of {stats.topk_entries} {'drawn' if stats.draws else 'top-k'} "
            f"entries have ids beyond the student's {rows} output rows (a padded teacher vocabulary); "
            + (
                "their draws count with no term"
                if stats.draws
                else "their probability goes to the tail bucket"
            )
        )
    if stats.unmapped_strings:
        notes.append(
            f"{stats.unmapped_strings} of {stats.topk_entries} top-k token strings are not single "
            "tokens of the student's tokenizer; their probability goes to the tail bucket"
        )
    return notes


def _load_student(config: TrainConfig) -> PreTrainedModel:
    model, _ = load_model(config.student, device="cpu", dtype="float32")
    model.train()
    if not config.lora_r:
        return model
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ConfigError("--lora-r needs the peft package (pip install peft)") from exc
    torch.manual_seed(config.seed)  # LoRA's A matrices are random: seeded, so a rerun is identical
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=2 * config.lora_r,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)  # type: ignore[return-value]


def _teacher_tokenizer(config: TrainConfig, harvest: Harvest) -> PreTrainedTokenizerBase | None:
    """``--teacher``'s tokenizer, else the one the harvest's manifest records (local teachers), else None."""
    if config.teacher is not None:
        return load_tokenizer(config.teacher)
    recorded = harvest.manifest.get("teacher", {}).get("tokenizer") or {}
    path = harvest.path / str(recorded.get("path", ""))
    if not recorded.get("path") or not path.is_dir():
        return None
    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # transformers raises many types (OSError, ValueError, KeyError, ...)
        raise DataError(f"{path}: the harvest's teacher tokenizer cannot be loaded ({exc})") from exc


def _has_strings(harvest: Harvest) -> bool:
    return any(r["top_tokens"] is not None for r in harvest.records)


def _cross_signal(
    config: TrainConfig,
    harvest: Harvest,
    teacher_tokenizer: PreTrainedTokenizerBase | None,
    examples: list[Example],
    tokenizer: PreTrainedTokenizerBase,
    device: torch.device,
    say: Callable[[str], Any],
) -> tuple[CrossStats | None, int]:
    """Attach the cross-tokenizer signal to ``examples``; returns its stats and the top-k width."""
    if config.cross_tokenizer == "sft":
        return None, 0
    sides: list[TeacherSide | None]
    if config.teacher is not None:
        assert teacher_tokenizer is not None
        say(f"scoring the {len(harvest.records)} completions with {config.teacher} (its own tokenizer)")
        teacher_device = config.teacher_device or str(device)
        model, _ = load_model(config.teacher, device=teacher_device, dtype=config.teacher_dtype)
        sides = list(score_sides(model, teacher_tokenizer, harvest.records, batch_size=config.batch_size))
        del model
    else:
        vocab = Vocab(teacher_tokenizer) if teacher_tokenizer is not None else None
        sides = [side_from_record(r, vocab) for r in harvest.records]
    if not any(sides):
        raise ConfigError(
            f"the student's tokenizer ({config.student}) is not the one the harvest's teacher "
            f"{harvest.describe_teacher()} used, and no record has a top-k the student can read "
            "(token strings, or token ids with the teacher's tokenizer): pass --teacher, or train "
            "with --loss sft"
        )
    k = top_k_of(sides)
    return attach_cross(examples, sides, tokenizer, method=config.cross_tokenizer, k=k), k


def prepare(config: TrainConfig, device: torch.device, say: Callable[[str], Any]) -> Setup:
    """Load and check everything (see the module docstring); ``say`` reports progress and warnings."""
    harvest = load_harvest(config.data)
    signal: Signal = "logits" if config.teacher is not None else harvest.signal
    check_loss(config.loss, signal)
    if signal == "sampled" and config.loss != "sft" and config.temperature != 1.0:
        raise ConfigError(
            f"--temperature {config.temperature}: {config.data} holds ids drawn from the teacher at "
            "temperature 1, which estimate its T = 1 distribution without bias but not a tempered one; "
            "use --temperature 1"
        )
    tokenizer = _tokenizer(config)
    distill = config.loss != "sft"
    teacher_tokenizer = _teacher_tokenizer(config, harvest) if distill else None
    cross = teacher_tokenizer is not None and not same_tokenizer(teacher_tokenizer, tokenizer)
    with_signal = distill and config.teacher is None and not cross
    rows, dtype = _student_config(config)
    examples, stats = encode_records(
        harvest.records, tokenizer, vocab_size=rows, max_length=config.max_length, with_signal=with_signal
    )
    found = with_signal and teacher_tokenizer is None and stats.aligned_fraction < MIN_ALIGNED
    if found and _has_strings(harvest):
        cross, stats.top_k = True, 0  # an API harvest whose token strings the student does not reproduce
        for example in examples:
            example.topk_ids = example.topk_logprobs = None
    warnings = _check_alignment(stats, harvest, config, rows) if with_signal and not cross else []
    cross_stats = None
    if cross:
        if config.on_policy > 0:
            raise ConfigError(
                "--on-policy needs a --teacher with the student's tokenizer (it scores the student's own "
                "samples token by token); this run is cross-tokenizer"
            )
        cross_stats, stats.top_k = _cross_signal(
            config, harvest, teacher_tokenizer, examples, tokenizer, device, say
        )
        say(
            f"cross-tokenizer: the student's tokenizer ({len(tokenizer)} tokens) is not the teacher's; "
            + (cross_stats.describe() if cross_stats else "sft: training on the teacher's text only")
        )
    if stats.dropped_long_prompt:
        warnings.append(
            f"{stats.dropped_long_prompt} records dropped: their prompt alone reaches "
            f"--max-length {config.max_length}"
        )
    if stats.truncated:
        warnings.append(f"{stats.truncated} completions cut to fit --max-length {config.max_length}")
    train_idx, eval_idx = split_by_prompt([e.prompt_id for e in examples], config.eval_fraction, config.seed)
    if not train_idx:
        raise DataError(f"{config.data}: no training examples left after the eval split and --max-length")
    say(
        f"data: {len(harvest.records)} records from {harvest.describe_teacher()} ({signal} signal); "
        f"{len(train_idx)} train, {len(eval_idx)} eval (split by prompt)"
    )
    model = _load_student(config)
    teacher = None
    if config.teacher is not None and not cross:
        teacher_device = config.teacher_device or str(device)
        resolve_device(teacher_device)  # ModelError for a device that is not there
        teacher = OnlineTeacher.load(config.teacher, device=teacher_device, dtype=config.teacher_dtype)
        rows_t = teacher.model.get_output_embeddings().weight.shape[0]
        if rows_t != rows:
            warnings.append(
                f"teacher has {rows_t} output rows, student {rows} (same tokenizer, padded "
                f"differently): distilling on the {min(rows_t, rows)} ids both have"
            )
    pad_id = next(i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if i is not None)
    return Setup(
        harvest,
        signal,
        tokenizer,
        model,
        [examples[i] for i in train_idx],
        [examples[i] for i in eval_idx],
        stats,
        pad_id,
        dtype,
        teacher,
        warnings,
        config.cross_tokenizer if cross else None,
        cross_stats,
    )
