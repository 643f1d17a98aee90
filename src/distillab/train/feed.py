"""What the student is shown at each micro-batch, and the held-out eval loss.

``Feed(micro)`` is the whole per-batch data path: the examples of global micro-batch ``micro`` for
this process, padded and moved to the device; replaced by the student's own completions when the
micro-batch is on-policy; and the teacher's logits on the result when there is an online teacher.
Everything in it is a function of ``micro`` and the seed, which is what lets a resumed run continue
on exactly the batches the interrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from accelerate import Accelerator
from torch import Tensor

from distillab.train.collate import Batch, collate, micro_batch
from distillab.train.config import TrainConfig
from distillab.train.encode import Example
from distillab.train.objective import Objective
from distillab.train.online import OnlineTeacher, is_on_policy, on_policy_batch
from distillab.train.setup import Setup


class Feed:
    """``feed(micro) -> (batch, teacher logits or None, on_policy)`` for this process."""

    def __init__(self, setup: Setup, config: TrainConfig, accelerator: Accelerator, model: torch.nn.Module):
        self.setup, self.config, self.accelerator, self.model = setup, config, accelerator, model

    def __call__(self, micro: int) -> tuple[Batch, Tensor | None, bool]:
        s, c, acc = self.setup, self.config, self.accelerator
        idx = micro_batch(
            len(s.train),
            micro,
            size=c.batch_size,
            seed=c.seed,
            rank=acc.process_index,
            world=acc.num_processes,
        )
        batch = collate([s.train[i] for i in idx], s.pad_id, s.top_k).to(acc.device)
        on_policy = is_on_policy(c.on_policy, c.seed, micro)
        if on_policy:
            student = acc.unwrap_model(self.model)
            seed = (c.seed * 1_000_003 + micro) * 1_009 + acc.process_index
            with acc.autocast():
                batch = on_policy_batch(
                    student,
                    batch,
                    pad_id=s.pad_id,  # type: ignore[arg-type]
                    max_new_tokens=c.max_new_tokens,
                    max_length=c.max_length,
                    seed=seed,
                ).to(acc.device)
        return batch, _teacher_logits(s.teacher, batch), on_policy


def _teacher_logits(teacher: OnlineTeacher | None, batch: Batch) -> Tensor | None:
    return None if teacher is None else teacher.logits(batch)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    examples: Sequence[Example],
    objective: Objective,
    setup: Setup,
    accelerator: Accelerator,
    batch_size: int,
) -> dict[str, float]:
    """Token-weighted mean loss, cross-entropy and KD term over ``examples`` (sharded over processes).

    Always on the data as given (never on-policy), so evals of different runs compare.
    """
    if not examples:
        return {}
    was_training = model.training
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=accelerator.device)  # loss, ce, kd, tokens
    mine = list(examples)[accelerator.process_index :: accelerator.num_processes]
    for start in range(0, len(mine), batch_size):
        batch = collate(mine[start : start + batch_size], setup.pad_id, setup.top_k).to(accelerator.device)
        with accelerator.autocast():
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        terms = objective(logits, batch, _teacher_logits(setup.teacher, batch))
        n = terms.tokens
        kd = float(terms.kd) if terms.kd is not None else 0.0
        sums += torch.tensor(
            [float(terms.loss) * n, float(terms.ce) * n, kd * n, n],
            dtype=torch.float64,
            device=accelerator.device,
        )
    model.train(was_training)
    total = accelerator.reduce(sums, reduction="sum")
    loss, ce, kd, tokens = (float(v) for v in total.tolist())  # type: ignore[union-attr]
    result = {"loss": loss / max(tokens, 1), "ce": ce / max(tokens, 1), "tokens": tokens}
    if objective.distill:
        result["kd"] = kd / max(tokens, 1)
    return result
