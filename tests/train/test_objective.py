"""The training objective: the chunked path gives the same loss and gradient as the plain one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor
from transformers import LlamaConfig

from distillab.train.collate import collate
from distillab.train.config import TrainConfig
from distillab.train.encode import Example
from distillab.train.objective import Objective, Terms

VOCAB = 37


def _objective(tmp_path: Path, loss: str, kd_weight: float, chunk_size: int | None) -> Objective:
    tiny = LlamaConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2)
    tiny.save_pretrained(tmp_path)  # TrainConfig checks that the student has a config.json
    config = TrainConfig(
        student=tmp_path,
        data=tmp_path,
        out=tmp_path / "out",
        loss=loss,
        kd_weight=kd_weight,
        temperature=2.0,
        chunk_size=chunk_size,
    )
    return Objective(config)


def _step(objective: Objective, logits: Tensor, teacher: Tensor | None) -> tuple[Terms, Tensor]:
    """One micro-batch of three sequences (prompt 2 tokens, padded to 9) through the objective."""
    batch = collate([Example(list(range(3, 3 + n)), 2, f"p{n}") for n in (9, 6, 4)], pad_id=0, top_k=0)
    student = logits.clone().requires_grad_()
    terms = objective(student, batch, teacher)
    terms.loss.backward()
    assert student.grad is not None
    return terms, student.grad


@pytest.mark.parametrize(("loss", "kd_weight"), [("sft", 0.5), ("fkl", 0.5), ("gjsd", 0.3), ("fkl", 1.0)])
def test_chunked_objective_equals_plain_in_loss_and_gradient(
    tmp_path: Path, loss: str, kd_weight: float
) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 9, VOCAB, generator=g, dtype=torch.float64)
    teacher = torch.randn(3, 9, VOCAB, generator=g, dtype=torch.float64) if loss != "sft" else None
    plain, grad_plain = _step(_objective(tmp_path, loss, kd_weight, None), logits, teacher)
    chunked, grad_chunked = _step(_objective(tmp_path, loss, kd_weight, 4), logits, teacher)
    assert torch.allclose(plain.loss, chunked.loss, rtol=1e-12, atol=0)
    assert torch.allclose(plain.ce, chunked.ce, rtol=1e-12, atol=0)
    assert (plain.kd is None) == (chunked.kd is None) == (loss == "sft")
    if plain.kd is not None and chunked.kd is not None:
        assert torch.allclose(plain.kd, chunked.kd, rtol=1e-12, atol=0)
    assert torch.allclose(grad_plain, grad_chunked, rtol=1e-10, atol=1e-14)
    assert float(grad_chunked[:, -1].abs().sum()) == 0  # the last position predicts nothing
    assert float(grad_chunked.abs().sum()) > 0
