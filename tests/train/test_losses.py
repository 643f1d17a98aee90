"""Distillation losses against references at their limits, hand-computed values and TRL's own GJSD."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from distillab.errors import ConfigError
from distillab.train.losses import (
    LOSSES,
    TAIL_FLOOR,
    bucket_logprobs,
    check_loss,
    forward_kl,
    forward_kl_topk,
    gjsd,
    gjsd_topk,
    losses_for,
    reverse_kl,
    reverse_kl_topk,
    sft_loss,
    skew_kl,
    skew_kl_topk,
    total_variation,
    total_variation_topk,
)

Loss = Callable[..., Tensor]

# Every divergence as (dense, top-k) pairs with its hyperparameter fixed, for parametrised checks.
DIVERGENCES: dict[str, tuple[Loss, Loss]] = {
    "fkl": (forward_kl, forward_kl_topk),
    "rkl": (reverse_kl, reverse_kl_topk),
    "gjsd0.3": (partial(gjsd, beta=0.3), partial(gjsd_topk, beta=0.3)),
    "skl0.1": (partial(skew_kl, alpha=0.1), partial(skew_kl_topk, alpha=0.1)),
    "tv": (total_variation, total_variation_topk),
}
NAMES = list(DIVERGENCES)
# Losses that stay finite when the teacher gives some tokens probability exactly 0.
ZERO_SAFE = ["fkl", "gjsd0.3", "skl0.1", "tv"]

P_TEACHER = [0.5, 0.3, 0.2]
Q_STUDENT = [0.1, 0.6, 0.3]


def _random(
    b: int = 3,
    t: int = 5,
    v: int = 11,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    student = (3 * torch.randn(b, t, v, generator=g)).to(dtype)
    teacher = (3 * torch.randn(b, t, v, generator=g)).to(dtype)
    mask = torch.rand(b, t, generator=g) > 0.3
    mask[0, 0] = True
    return student, teacher, mask


def _full_topk(teacher: Tensor, seed: int = 1) -> tuple[Tensor, Tensor]:
    """All V ids in a shuffled order per position (K = V), with the teacher's log-probs."""
    g = torch.Generator().manual_seed(seed)
    b, t, v = teacher.shape
    ids = torch.stack([torch.randperm(v, generator=g) for _ in range(b * t)]).view(b, t, v)
    return ids, torch.log_softmax(teacher, -1).gather(-1, ids)


def _hand_pair() -> tuple[Tensor, Tensor, Tensor]:
    """The 3-category example: student Q, teacher P, one kept position."""
    student = torch.tensor(Q_STUDENT, dtype=torch.float64).log().view(1, 1, 3)
    teacher = torch.tensor(P_TEACHER, dtype=torch.float64).log().view(1, 1, 3)
    return student, teacher, torch.ones(1, 1, dtype=torch.bool)


# --- references at the limits -------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.7, 1.0, 2.0])
def test_gjsd_at_beta_0_and_1_is_forward_and_reverse_kl(temperature: float) -> None:
    s, t, m = _random()
    fkl, rkl = forward_kl(s, t, m, temperature=temperature), reverse_kl(s, t, m, temperature=temperature)
    assert torch.allclose(gjsd(s, t, m, beta=0.0, temperature=temperature), fkl)
    assert torch.allclose(gjsd(s, t, m, beta=1.0, temperature=temperature), rkl)
    ids, lp = _full_topk(t)
    assert torch.allclose(
        gjsd_topk(s, ids[..., :4], lp[..., :4], m, beta=0.0), forward_kl_topk(s, ids[..., :4], lp[..., :4], m)
    )


def test_gjsd_half_matches_hand_computed_jensen_shannon() -> None:
    # M = (P + Q) / 2 = [0.3, 0.45, 0.25]; JS = (KL(P||M) + KL(Q||M)) / 2.
    kl_p_m = 0.5 * math.log(0.5 / 0.3) + 0.3 * math.log(0.3 / 0.45) + 0.2 * math.log(0.2 / 0.25)
    kl_q_m = 0.1 * math.log(0.1 / 0.3) + 0.6 * math.log(0.6 / 0.45) + 0.3 * math.log(0.3 / 0.25)
    expected = 0.5 * kl_p_m + 0.5 * kl_q_m
    assert expected == pytest.approx(0.1032945254, abs=1e-9)
    s, t, m = _hand_pair()
    assert gjsd(s, t, m, beta=0.5).item() == pytest.approx(expected, abs=1e-12)


def test_skew_kl_at_alpha_0_is_forward_kl_and_matches_hand_value() -> None:
    s, t, m = _random()
    assert torch.allclose(skew_kl(s, t, m, alpha=0.0), forward_kl(s, t, m))
    assert skew_kl(s, t, m, alpha=1.0).item() == pytest.approx(0.0, abs=1e-12)
    # KL(P || 0.1 P + 0.9 Q), mixture [0.14, 0.57, 0.29]: DistiLLM's skew forward KL.
    expected = 0.5 * math.log(0.5 / 0.14) + 0.3 * math.log(0.3 / 0.57) + 0.2 * math.log(0.2 / 0.29)
    hs, ht, hm = _hand_pair()
    assert skew_kl(hs, ht, hm, alpha=0.1).item() == pytest.approx(expected, abs=1e-12)


def test_total_variation_matches_hand_value() -> None:
    s, t, m = _hand_pair()
    assert total_variation(s, t, m).item() == pytest.approx(0.5 * (0.4 + 0.3 + 0.1), abs=1e-12)


def test_forward_kl_is_zero_on_identical_nonnegative_and_matches_torch() -> None:
    s, t, m = _random()
    assert forward_kl(s, s.clone(), m).item() == pytest.approx(0.0, abs=1e-12)
    assert forward_kl(s, s + 5.0, m).item() == pytest.approx(0.0, abs=1e-12)  # logits up to a shift
    for seed in range(5):
        s, t, m = _random(seed=seed)
        value = forward_kl(s, t, m)
        assert value.item() >= 0
        per_token = F.kl_div(
            torch.log_softmax(s, -1), torch.log_softmax(t, -1), log_target=True, reduction="none"
        ).sum(-1)
        assert torch.allclose(value, per_token[m].mean())


def test_sft_matches_cross_entropy_with_ignore_index() -> None:
    s, _, m = _random()
    labels = torch.randint(0, s.shape[-1], m.shape).masked_fill(~m, -100)
    expected = F.cross_entropy(s.reshape(-1, s.shape[-1]), labels.reshape(-1), ignore_index=-100)
    assert torch.allclose(sft_loss(s, labels), expected)


# --- top-k with a tail bucket -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_topk_with_all_ids_equals_dense(name: str, temperature: float) -> None:
    dense, topk = DIVERGENCES[name]
    s, t, m = _random()
    ids, lp = _full_topk(t)
    expected = dense(s, t, m, temperature=temperature)
    # Both tails are only the floor, which scales everything else by 1 / (1 + TAIL_FLOOR).
    value = topk(s, ids, lp, m, temperature=temperature)
    assert torch.allclose(value, expected, rtol=5 * TAIL_FLOOR, atol=1e-9)


def test_topk_matches_hand_computed_buckets() -> None:
    # V = 4, teacher [.5, .3, .15, .05] keeps ids 0, 1 (tail .2); student [.1, .6, .2, .1] (tail .3).
    student = torch.tensor([0.1, 0.6, 0.2, 0.1], dtype=torch.float64).log().view(1, 1, 4)
    ids = torch.tensor([[[0, 1]]])
    lp = torch.tensor([[[math.log(0.5), math.log(0.3)]]], dtype=torch.float64)
    m = torch.ones(1, 1, dtype=torch.bool)
    expected = 0.5 * math.log(0.5 / 0.1) + 0.3 * math.log(0.3 / 0.6) + 0.2 * math.log(0.2 / 0.3)
    assert forward_kl_topk(student, ids, lp, m).item() == pytest.approx(expected, abs=1e-5)
    tv = 0.5 * (0.4 + 0.3 + 0.1)
    assert total_variation_topk(student, ids, lp, m).item() == pytest.approx(tv, abs=1e-5)


def test_topk_temperature_reshapes_within_topk_and_keeps_tail() -> None:
    buckets = bucket_logprobs(torch.tensor([[math.log(0.5), math.log(0.3)]], dtype=torch.float64), 2.0).exp()
    within = torch.tensor([math.sqrt(0.5), math.sqrt(0.3)], dtype=torch.float64)
    expected = torch.cat([0.8 * within / within.sum(), torch.tensor([0.2], dtype=torch.float64)])
    assert torch.allclose(buckets[0], expected, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_topk_padding_is_ignored(name: str) -> None:
    _, topk = DIVERGENCES[name]
    s, t, m = _random()
    ids, lp = _full_topk(t)
    ids, lp = ids[..., :4], lp[..., :4]
    padded_ids = torch.cat([ids, torch.full_like(ids[..., :2], -1)], -1)
    padded_lp = torch.cat([lp, torch.full_like(lp[..., :2], 7.0)], -1)  # garbage under the padding
    assert torch.allclose(topk(s, padded_ids, padded_lp, m), topk(s, ids, lp, m))
    # A position with no alternatives at all carries no information: both sides are all tail.
    none_ids, none_lp = torch.full_like(ids, -1), torch.zeros_like(lp)
    value = topk(s.requires_grad_(), none_ids, none_lp, m)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=1e-12)
    assert s.grad is not None and torch.isfinite(s.grad).all()


def test_shape_and_vocabulary_mismatches_are_reported() -> None:
    s, t, m = _random()
    with pytest.raises(ValueError, match="same vocabulary"):
        forward_kl(s, t[..., :-1], m)
    ids, lp = _full_topk(t)
    with pytest.raises(ValueError, match="outside the student's vocabulary"):
        forward_kl_topk(s, ids + 1, lp, m)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_topk_student_equal_to_teacher_scores_zero(name: str, temperature: float) -> None:
    _, topk = DIVERGENCES[name]
    _, t, m = _random()
    ids, lp = _full_topk(t)
    value = topk(t, ids[..., :3], lp[..., :3], m, temperature=temperature)
    assert value.item() == pytest.approx(0.0, abs=1e-10)


# --- chunked full-vocabulary path ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("chunk_size", [1, 4, 1000])
def test_chunked_equals_unchunked_values_and_gradients(name: str, chunk_size: int) -> None:
    dense, _ = DIVERGENCES[name]
    s, t, m = _random()
    s_plain, s_chunked = s.clone().requires_grad_(), s.clone().requires_grad_()
    plain = dense(s_plain, t, m, temperature=1.5)
    chunked = dense(s_chunked, t, m, temperature=1.5, chunk_size=chunk_size)
    assert torch.allclose(plain, chunked, rtol=1e-12, atol=1e-12)
    (3.0 * plain).backward()
    (3.0 * chunked).backward()
    assert s_plain.grad is not None and s_chunked.grad is not None
    assert torch.allclose(s_plain.grad, s_chunked.grad, rtol=1e-10, atol=1e-12)


def test_chunked_keeps_student_dtype_for_gradient_and_float32_for_value() -> None:
    s, t, m = _random(dtype=torch.bfloat16)
    s.requires_grad_()
    value = forward_kl(s, t, m, chunk_size=2)
    value.backward()
    assert value.dtype == torch.float32 and s.grad is not None and s.grad.dtype == torch.bfloat16
    reference = forward_kl(s.detach().float(), t.float(), m)
    assert value.item() == pytest.approx(reference.item(), rel=1e-5)


def test_chunked_without_grad_builds_no_gradient() -> None:
    s, t, m = _random()
    with torch.no_grad():
        assert torch.allclose(forward_kl(s, t, m, chunk_size=3), forward_kl(s, t, m))


def _labels(m: Tensor, vocab: int, seed: int = 5) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, m.shape, generator=g).masked_fill(~m, -100)


@pytest.mark.parametrize("chunk_size", [1, 4, 1000])
def test_chunked_cross_entropy_equals_torch_in_value_and_gradient(chunk_size: int) -> None:
    s, _, m = _random()
    labels = _labels(m, s.shape[-1])
    s_torch, s_chunked = s.clone().requires_grad_(), s.clone().requires_grad_()
    expected = F.cross_entropy(s_torch.reshape(-1, s.shape[-1]), labels.reshape(-1), ignore_index=-100)
    chunked = sft_loss(s_chunked, labels, chunk_size=chunk_size)
    assert torch.allclose(expected, chunked, rtol=1e-12, atol=1e-12)
    (3.0 * expected).backward()
    (3.0 * chunked).backward()
    assert s_torch.grad is not None and s_chunked.grad is not None
    assert torch.allclose(s_torch.grad, s_chunked.grad, rtol=1e-10, atol=1e-12)
    assert (s_chunked.grad[~m] == 0).all()


def test_chunked_cross_entropy_on_a_strided_view_keeps_the_gradient_in_place() -> None:
    s, _, m = _random(t=6)
    labels = _labels(m, s.shape[-1])[:, 1:]
    s_torch, s_chunked = s.clone().requires_grad_(), s.clone().requires_grad_()
    expected = sft_loss(s_torch[:, :-1], labels)
    chunked = sft_loss(s_chunked[:, :-1], labels, chunk_size=2)
    assert torch.allclose(expected, chunked, rtol=1e-12, atol=1e-12)
    expected.backward()
    chunked.backward()
    assert s_torch.grad is not None and s_chunked.grad is not None
    assert torch.allclose(s_torch.grad, s_chunked.grad, rtol=1e-10, atol=1e-12)
    assert (s_chunked.grad[:, -1] == 0).all()


def test_chunked_cross_entropy_keeps_bf16_gradient_and_float32_value() -> None:
    s, _, m = _random(dtype=torch.bfloat16)
    labels = _labels(m, s.shape[-1])
    s.requires_grad_()
    value = sft_loss(s, labels, chunk_size=2)
    value.backward()
    assert value.dtype == torch.float32 and s.grad is not None and s.grad.dtype == torch.bfloat16
    reference = s.detach().float().requires_grad_()
    expected = F.cross_entropy(reference.reshape(-1, s.shape[-1]), labels.reshape(-1), ignore_index=-100)
    expected.backward()
    assert reference.grad is not None
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(s.grad.float(), reference.grad.bfloat16().float())


def test_chunked_backward_twice_is_an_error_not_a_rescaled_gradient() -> None:
    s, _, m = _random()
    s.requires_grad_()
    value = 0.5 * sft_loss(s, _labels(m, s.shape[-1]), chunk_size=2)
    value.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        value.backward()


def test_chunked_cross_entropy_with_no_labels_is_zero_with_grad_path() -> None:
    s, _, m = _random()
    s.requires_grad_()
    value = sft_loss(s, torch.full(m.shape, -100), chunk_size=3)
    assert value.item() == 0.0 and value.requires_grad
    value.backward()
    assert s.grad is not None and (s.grad == 0).all()


# --- empty masks, masked positions, -inf, dtypes, gradients ---------------------------------------


def _all_forms(name: str, s: Tensor, t: Tensor, m: Tensor) -> list[Tensor]:
    dense, topk = DIVERGENCES[name]
    ids, lp = _full_topk(t)
    return [dense(s, t, m), dense(s, t, m, chunk_size=2), topk(s, ids[..., :5], lp[..., :5], m)]


@pytest.mark.parametrize("name", NAMES)
def test_empty_mask_gives_zero_with_grad_path(name: str) -> None:
    s, t, m = _random()
    s.requires_grad_()
    for value in _all_forms(name, s, t, torch.zeros_like(m)):
        assert value.item() == 0.0 and value.requires_grad
        (grad,) = torch.autograd.grad(value, s)
        assert (grad == 0).all()


def test_sft_empty_labels_give_zero_with_grad_path() -> None:
    s, _, m = _random()
    s.requires_grad_()
    value = sft_loss(s, torch.full(m.shape, -100))
    assert value.item() == 0.0 and value.requires_grad
    value.backward()
    assert s.grad is not None and (s.grad == 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_masked_positions_do_not_affect_value_or_gradient(name: str) -> None:
    s, t, m = _random()
    s2, t2 = s.clone(), t.clone()
    s2[~m] = 1e4 * torch.randn(int((~m).sum()), s.shape[-1], dtype=s.dtype)
    t2[~m] = float("nan")
    s.requires_grad_()
    s2.requires_grad_()
    for a, b in zip(_all_forms(name, s, t, m), _all_forms(name, s2, t2, m), strict=True):
        assert torch.allclose(a, b)
        (ga,) = torch.autograd.grad(a, s)
        (gb,) = torch.autograd.grad(b, s2)
        assert torch.allclose(ga, gb) and (gb[~m] == 0).all()


def test_sft_masked_positions_do_not_affect_value() -> None:
    s, _, m = _random()
    labels = torch.randint(0, s.shape[-1], m.shape).masked_fill(~m, -100)
    s2 = s.clone()
    s2[~m] = 1e4
    assert torch.allclose(sft_loss(s, labels), sft_loss(s2, labels))


def _zero_some(t: Tensor) -> Tensor:
    """Teacher log-probs with about a third of the vocabulary at exactly zero probability."""
    lp = torch.log_softmax(t, -1)
    g = torch.Generator().manual_seed(3)
    zero = torch.rand(lp.shape, generator=g) < 0.35
    zero[..., 0] = False
    return torch.log_softmax(lp.masked_fill(zero, -math.inf), -1)


@pytest.mark.parametrize("name", ZERO_SAFE)
def test_minus_inf_teacher_logprobs_give_finite_values_and_gradients(name: str) -> None:
    s, t, m = _random()
    s.requires_grad_()
    t = _zero_some(t)
    for value in _all_forms(name, s, t, m):
        (grad,) = torch.autograd.grad(value, s)
        assert torch.isfinite(value) and torch.isfinite(grad).all()


def test_reverse_kl_with_zero_teacher_probability_is_inf_not_nan() -> None:
    s, t, m = _random()
    value = reverse_kl(s, _zero_some(t), m)
    assert math.isinf(value.item()) and value.item() > 0


@pytest.mark.parametrize("name", NAMES)
def test_bf16_student_is_upcast(name: str) -> None:
    dense, topk = DIVERGENCES[name]
    s, t, m = _random(dtype=torch.float32)
    ids, lp = _full_topk(t)
    for loss, args in [(dense, (t, m)), (topk, (ids[..., :5], lp[..., :5], m))]:
        low = loss(s.bfloat16(), *args)
        high = loss(s.bfloat16().float(), *args)
        assert low.dtype == torch.float32 and torch.allclose(low, high, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_reaches_student_logits(name: str) -> None:
    s, t, m = _random()
    s.requires_grad_()
    for value in _all_forms(name, s, t, m):
        (grad,) = torch.autograd.grad(value, s)
        assert torch.isfinite(grad).all() and grad[m].abs().sum() > 0


# --- temperature ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_temperature_divides_both_sides_and_ignores_teacher_shift(name: str) -> None:
    dense, _ = DIVERGENCES[name]
    s, t, m = _random()
    expected = dense(s / 2.0, t / 2.0, m)
    assert torch.allclose(dense(s, t, m, temperature=2.0), expected)
    # The teacher may be given as logits or as log-probs.
    assert torch.allclose(dense(s, torch.log_softmax(t, -1), m, temperature=2.0), expected)


def test_high_temperature_flattens_both_sides() -> None:
    s, t, m = _random()
    assert forward_kl(s, t, m, temperature=100.0) < 1e-2 * forward_kl(s, t, m)


# --- registry -------------------------------------------------------------------------------------


def test_losses_dict_names_and_signals() -> None:
    assert set(LOSSES) == {"sft", "fkl", "rkl", "gjsd", "skl", "tv"}
    assert losses_for("text") == ["sft"]
    assert losses_for("topk") == losses_for("logits") == list(LOSSES)
    assert all(spec.topk is not None for name, spec in LOSSES.items() if name != "sft")
    assert check_loss("gjsd", "topk").topk is gjsd_topk
    with pytest.raises(ConfigError, match="dataset has text only; losses that work: sft"):
        check_loss("fkl", "text")
    with pytest.raises(ConfigError, match="unknown loss 'kl'"):
        check_loss("kl", "logits")


# --- peer check against TRL ----------------------------------------------------------------------


def _trl_generalized_jsd() -> Callable[..., Tensor]:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        from trl import GKDTrainer  # type: ignore[attr-defined]  # older TRL
    except ImportError:
        gkd = pytest.importorskip("trl.experimental.gkd")
        GKDTrainer = gkd.GKDTrainer
    fn: Callable[..., Tensor] = GKDTrainer.generalized_jsd_loss
    return fn


def test_gjsd_matches_trl_gkd_trainer() -> None:
    trl_jsd = _trl_generalized_jsd()
    s, t, m = _random(b=4, t=6, v=50, dtype=torch.float32)
    labels = torch.where(m, 1, -100)
    for beta in [0.0, 0.1, 0.5, 0.9, 1.0]:
        for temperature in [0.5, 1.0, 2.0]:
            theirs = trl_jsd(s, t, labels, beta=beta, temperature=temperature)
            for chunk_size in [None, 5]:
                ours = gjsd(s, t, m, beta=beta, temperature=temperature, chunk_size=chunk_size)
                assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-5), (beta, temperature, chunk_size)


# --- end to end: optimising a student moves it toward the teacher -----------------------------------

FORMS = [(name, form) for name in NAMES for form in ("dense", "topk")] + [("sft", "text")]


@pytest.mark.parametrize(("name", "form"), FORMS)
def test_optimising_student_reduces_loss_and_raises_agreement(name: str, form: str) -> None:
    student, teacher, mask = _random(b=4, t=6, v=32, seed=7, dtype=torch.float32)
    student = student / 3  # a less confident random start than the teacher
    ids, lp = _full_topk(teacher)
    order = lp.argsort(-1, descending=True)  # a real top-k: the teacher's 5 most likely ids
    ids, lp = ids.gather(-1, order)[..., :5], lp.gather(-1, order)[..., :5]
    if name == "sft":
        labels = teacher.argmax(-1).masked_fill(~mask, -100)
        loss_of: Callable[[Tensor], Tensor] = partial(sft_loss, labels=labels)
    elif form == "dense":
        loss_of = partial(DIVERGENCES[name][0], teacher_logprobs=teacher, mask=mask)
    else:
        loss_of = partial(DIVERGENCES[name][1], teacher_topk_ids=ids, teacher_topk_logprobs=lp, mask=mask)

    def agreement(x: Tensor) -> float:
        return (x.argmax(-1) == teacher.argmax(-1))[mask].float().mean().item()

    param = student.clone().requires_grad_()
    opt = torch.optim.Adam([param], lr=0.1)
    first = loss_of(param).item()
    for _ in range(50):
        opt.zero_grad()
        loss_of(param).backward()
        opt.step()
    assert loss_of(param).item() < 0.2 * first
    assert agreement(student) < 0.2 and agreement(param.detach()) >= 0.9
