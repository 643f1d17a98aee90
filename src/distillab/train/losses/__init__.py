"""Distillation losses: one file per loss, each a pure function over tensors.

Four kinds of teacher signal, and the form of each loss that uses it:

- ``text``: the teacher's answers only -> ``sft_loss(student_logits, labels)``.
- ``sampled``: ids drawn from a local teacher's full distribution, with counts and the entropy
  (``distillab generate --draws K``) -> ``forward_kl_sampled(student_logits, draw_ids, draw_counts,
  teacher_entropy, mask)``, an unbiased estimate of the full-vocabulary forward KL. Only forward KL
  is an expectation under the teacher, so only it has this form.
- ``topk``: top-k log-probs stored from an API (k <= 20) -> ``<loss>_topk(student_logits,
  teacher_topk_ids, teacher_topk_logprobs, mask, *, temperature, ...)``, computed over the top-k ids
  plus one tail bucket (see ``_buckets``).
- cross-tokenizer (``distillab.train.xtok``): ``span_loss`` (a ``*_topk`` loss over {span, rest}) where
  tokens do not match one-to-one, and ``uld_loss`` (sorted probabilities, Boizard et al. 2024).
- ``logits``: a local teacher's full logits -> ``<loss>(student_logits, teacher_logprobs, mask, *,
  temperature, chunk_size, ...)``; ``chunk_size`` bounds memory for large vocabularies.

Conventions shared by every loss:

- Logits at position t are compared with the teacher's (or the label's) position t: callers shift.
- The result is the mean over kept positions of the whole batch (``mask`` true, label != -100); an
  empty mask gives 0, still attached to the graph, never NaN. Values are float32 (bf16 is upcast).
- Temperature divides both sides' logits (full-vocabulary form) and there is **no** ``T**2`` factor,
  the TRL ``GKDTrainer`` convention: a trainer mixing a tempered divergence with cross-entropy (Hinton
  style) should multiply the divergence by ``T**2`` itself to keep gradient scales comparable.

``LOSSES`` maps each name a user types (``--loss fkl``) to a ``LossSpec``; ``check_loss`` turns a
name and the data's signal into a spec or a ``ConfigError`` that lists the losses that would work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from distillab.errors import ConfigError
from distillab.train.losses._buckets import TAIL_FLOOR, bucket_logprobs
from distillab.train.losses.forward_kl import forward_kl, forward_kl_sampled, forward_kl_topk
from distillab.train.losses.gjsd import gjsd, gjsd_topk
from distillab.train.losses.reverse_kl import reverse_kl, reverse_kl_topk
from distillab.train.losses.sft import IGNORE_INDEX, sft_loss
from distillab.train.losses.skew_kl import skew_kl, skew_kl_topk
from distillab.train.losses.span import span_loss
from distillab.train.losses.tv import total_variation, total_variation_topk
from distillab.train.losses.uld import uld_loss

Signal = Literal["text", "sampled", "topk", "logits"]
"""What a dataset holds about the teacher: its text, ids drawn from it, top-k log-probs, full logits."""

SIGNALS: tuple[Signal, ...] = ("text", "topk", "logits")
"""The signals ordered from least to most: a loss that works on one works on the richer ones.
``sampled`` stands apart: it serves the losses with a ``sampled`` form (and ``sft``)."""

_SIGNAL_WORDS: dict[Signal, str] = {
    "text": "text only",
    "sampled": "sampled ids (forward KL only)",
    "topk": "top-k log-probs",
    "logits": "full logits",
}


@dataclass(frozen=True)
class LossSpec:
    """One loss: which teacher signal it needs and its functions for each signal it can use."""

    needs: Signal
    """The least signal the loss works from; any richer signal works too."""
    full: Callable[..., Tensor]
    """For ``needs == "text"`` the loss itself; otherwise the full-vocabulary (``logits``) form."""
    topk: Callable[..., Tensor] | None
    """The top-k form, or None for losses that need no teacher distribution."""
    summary: str
    sampled: Callable[..., Tensor] | None = None
    """The form over ids drawn from the teacher, for losses that have an unbiased one."""

    def works_on(self, signal: Signal) -> bool:
        if signal == "sampled":
            return self.needs == "text" or self.sampled is not None
        return SIGNALS.index(self.needs) <= SIGNALS.index(signal)


LOSSES: dict[str, LossSpec] = {
    "sft": LossSpec("text", sft_loss, None, "cross-entropy on the teacher's text"),
    "fkl": LossSpec(
        "topk",
        forward_kl,
        forward_kl_topk,
        "forward KL(teacher || student), mean-seeking",
        forward_kl_sampled,
    ),
    "rkl": LossSpec("topk", reverse_kl, reverse_kl_topk, "reverse KL(student || teacher), mode-seeking"),
    "gjsd": LossSpec("topk", gjsd, gjsd_topk, "generalized JSD (beta: 0 = forward KL, 1 = reverse KL)"),
    "skl": LossSpec("topk", skew_kl, skew_kl_topk, "skew KL(teacher || alpha*teacher + (1-alpha)*student)"),
    "tv": LossSpec("topk", total_variation, total_variation_topk, "total variation distance"),
}


def losses_for(signal: Signal) -> list[str]:
    """Names of the losses that work with a dataset holding ``signal``."""
    return [name for name, spec in LOSSES.items() if spec.works_on(signal)]


def check_loss(name: str, signal: Signal) -> LossSpec:
    """The spec for ``name``, or a ``ConfigError`` saying why it cannot run on ``signal`` data."""
    usable = ", ".join(losses_for(signal))
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; losses: {', '.join(LOSSES)}")
    spec = LOSSES[name]
    if not spec.works_on(signal):
        raise ConfigError(
            f"loss {name!r} needs {_SIGNAL_WORDS[spec.needs]} from the teacher but the dataset "
            f"has {_SIGNAL_WORDS[signal]}; losses that work: {usable}"
        )
    return spec


__all__ = [
    "IGNORE_INDEX",
    "LOSSES",
    "SIGNALS",
    "TAIL_FLOOR",
    "LossSpec",
    "Signal",
    "bucket_logprobs",
    "check_loss",
    "forward_kl",
    "forward_kl_sampled",
    "forward_kl_topk",
    "gjsd",
    "gjsd_topk",
    "losses_for",
    "reverse_kl",
    "reverse_kl_topk",
    "sft_loss",
    "skew_kl",
    "skew_kl_topk",
    "span_loss",
    "total_variation",
    "total_variation_topk",
    "uld_loss",
]
