"""Sampled KD: the loss over ids drawn from the teacher is an unbiased estimate of the full-vocabulary
forward KL (value and gradient) on a tiny model, where top-k truncation is not; and `train` reads a
sampled harvest unchanged."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from torch import Tensor
from train_world import World, closeness, harvest
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.errors import ConfigError
from distillab.models.draws import Draws, draw, draw_generator
from distillab.toy.models import ModelSize, build_model
from distillab.train.config import TrainConfig
from distillab.train.losses import check_loss, forward_kl, forward_kl_sampled, forward_kl_topk, losses_for
from distillab.train.trainer import run_train

K = 12
REPEATS = 400


def _as_tensors(drawn: Draws) -> tuple[Tensor, Tensor, Tensor]:
    """One sequence's draws as ``[1, N, D]`` ids and counts and ``[1, N]`` entropies."""
    width = max(len(r) for r in drawn.ids)
    ids = torch.full((1, len(drawn.ids), width), -1, dtype=torch.long)
    counts = torch.zeros((1, len(drawn.ids), width))
    for t, (row, c) in enumerate(zip(drawn.ids, drawn.counts)):
        ids[0, t, : len(row)] = torch.tensor(row)
        counts[0, t, : len(c)] = torch.tensor(c, dtype=torch.float32)
    return ids, counts, torch.tensor([drawn.entropy])


@pytest.fixture(scope="module")
def tiny_pair(tiny_model_dir: Path) -> tuple[Tensor, Tensor]:
    """(teacher log-probs [N, V], student logits [N, V]) at the positions of a few token sequences: the
    teacher a tiny model whose untied random head gives it a few nats of entropy, the student another."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    size = ModelSize(layers=2, dim=32, heads=2, max_positions=64)
    teacher = build_model(tokenizer, size, seed=0)
    teacher.config.tie_word_embeddings = False
    head = 0.35 * torch.randn(teacher.lm_head.weight.shape, generator=torch.Generator().manual_seed(3))
    teacher.lm_head.weight = torch.nn.Parameter(head)
    student = build_model(tokenizer, size, seed=1)
    ids = torch.randint(0, len(tokenizer), (3, 8), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        t = torch.log_softmax(teacher(ids).logits.double(), -1).reshape(-1, len(tokenizer))
        s = student(ids).logits.double().reshape(-1, len(tokenizer))
    return t, s


def test_sampled_forward_kl_is_unbiased_where_topk_truncation_is_not(
    tiny_pair: tuple[Tensor, Tensor],
) -> None:
    teacher, student = tiny_pair
    n = teacher.shape[0]
    mask = torch.ones(1, n, dtype=torch.bool)
    entropy = float((-(teacher.exp() * teacher).sum(-1)).mean())
    assert 1.0 < entropy < 5.0, entropy  # a spread-out teacher: where truncation shows

    logits = student[None].clone().requires_grad_(True)
    exact = forward_kl(logits, teacher[None], mask)
    (exact_grad,) = torch.autograd.grad(exact, logits)
    exact_kl = float(exact.detach())
    values, grads = [], []
    for r in range(REPEATS):
        ids, counts, ent = _as_tensors(draw(teacher, K, draw_generator(r, [], teacher.device)))
        estimate = forward_kl_sampled(logits, ids, counts, ent.double(), mask)
        (grad,) = torch.autograd.grad(estimate, logits)
        values.append(float(estimate.detach()))
        grads.append(grad)
    value = torch.tensor(values, dtype=torch.float64)
    mean, se = float(value.mean()), float(value.std() / REPEATS**0.5)
    assert se < 0.02 * exact_kl, (se, exact_kl)  # tight enough to see a bias of a few percent
    assert abs(mean - exact_kl) < 4 * se, (mean, exact_kl, se)

    # The gradient, which is what training uses, is unbiased too: along random directions (single rare
    # ids are seldom drawn, so their per-logit standard error is no guide), within 4.5 standard errors.
    directions = torch.randn(
        3, *logits.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    for u in directions:
        along = torch.stack([(g * u).sum() for g in grads])
        expected = float((exact_grad * u).sum())
        assert abs(float(along.mean()) - expected) < 4.5 * float(along.std() / REPEATS**0.5), u

    # The same check fails for top-k with as many ids per position: it is biased, not just noisy.
    top = teacher.topk(K, dim=-1)
    truncated = float(forward_kl_topk(logits, top.indices[None], top.values[None], mask).detach())
    assert abs(truncated - exact_kl) > 4 * se, (truncated, exact_kl, se)
    assert abs(truncated - exact_kl) > 10 * abs(mean - exact_kl)
    print(
        f"exact KL {exact_kl:.4f}; sampled K={K}: mean {mean:.4f} (se {se:.4f}, {REPEATS} draws); "
        f"top-{K} {truncated:.4f}"
    )


def test_sampled_loss_edges() -> None:
    logits = torch.randn(1, 2, 5, requires_grad=True)
    ids = torch.tensor([[[1, -1], [0, 4]]])
    counts = torch.tensor([[[3.0, 0.0], [1.0, 2.0]]])
    entropy = torch.tensor([[0.5, 1.0]])
    empty = forward_kl_sampled(logits, ids, counts, entropy, torch.zeros(1, 2, dtype=torch.bool))
    assert float(empty.detach()) == 0.0 and empty.requires_grad
    # A teacher certain of id 1, drawn 3 times, against any student: KL = -log q(1) - 0.
    one = forward_kl_sampled(logits, ids, counts, torch.zeros(1, 2), torch.tensor([[True, False]]))
    expected = -torch.log_softmax(logits[0, 0].detach(), -1)[1]
    assert float(one.detach()) == pytest.approx(float(expected), rel=1e-6)
    with pytest.raises(ValueError, match="temperature 1"):
        forward_kl_sampled(logits, ids, counts, entropy, torch.ones(1, 2, dtype=torch.bool), temperature=2.0)
    with pytest.raises(ValueError, match="outside the student's vocabulary"):
        forward_kl_sampled(logits, ids + 5, counts, entropy, torch.ones(1, 2, dtype=torch.bool))


def test_only_sft_and_fkl_work_on_sampled_data() -> None:
    assert losses_for("sampled") == ["sft", "fkl"]
    with pytest.raises(ConfigError, match="dataset has sampled ids.*losses that work: sft, fkl"):
        check_loss("rkl", "sampled")


# --- training on a sampled harvest ----------------------------------------------------------------


@pytest.fixture(scope="module")
def sampled_harvest(world: World) -> Path:
    return harvest(world.teacher, world.prompts, world.root / "h-sampled", draws=K)


def train(world: World, data: Path, out: Path, **kw: Any) -> dict[str, Any]:
    settings: dict[str, Any] = dict(
        student=world.student,
        data=data,
        out=out,
        loss="fkl",
        lr=1e-2,
        max_steps=40,
        batch_size=8,
        eval_fraction=0.1,
        progress=False,
        kd_weight=0.5,
    )
    settings.update(kw)
    result = run_train(TrainConfig(**settings), console=Console(file=io.StringIO(), width=300))
    return result.record


def test_sampled_kd_moves_student_toward_teacher(world: World, sampled_harvest: Path, tmp_path: Path) -> None:
    teacher = world.teacher_model()
    kl_before, agree_before = closeness(
        AutoModelForCausalLM.from_pretrained(world.student), teacher, world.held_out
    )
    record = train(world, sampled_harvest, tmp_path / "kd")
    kl_after, agree_after = closeness(
        AutoModelForCausalLM.from_pretrained(tmp_path / "kd"), teacher, world.held_out
    )
    assert kl_after < 0.85 * kl_before, (kl_before, kl_after)
    assert agree_after > agree_before + 0.2, (agree_before, agree_after)
    assert record["dataset"]["signal"] == "sampled" and record["loss"]["signal"] == "sampled"
    assert "kd" in record["eval"]
    manifest = json.loads((sampled_harvest / "manifest.json").read_text())
    assert manifest["identity"]["signal"] == "sampled"


def test_sampled_data_refuses_other_losses_and_temperatures(
    world: World, sampled_harvest: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="losses that work: sft, fkl"):
        train(world, sampled_harvest, tmp_path / "rkl", loss="rkl")
    with pytest.raises(ConfigError, match="--temperature 2.0: .* drawn from the teacher at temperature 1"):
        train(world, sampled_harvest, tmp_path / "t2", temperature=2.0)
