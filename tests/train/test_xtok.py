"""Cross-tokenizer distillation: the losses at their limits, and students trained across tokenizers."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import datasets
import pytest
import torch
from test_train import train
from train_world import World, harvest
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.cli.main import main
from distillab.errors import ConfigError
from distillab.models.vocab import Vocab
from distillab.toy.models import ModelSize, build_model
from distillab.toy.tokenizer import build_tokenizer
from distillab.train.collate import Batch, collate
from distillab.train.config import TrainConfig
from distillab.train.dataset import load_harvest
from distillab.train.encode import encode_records
from distillab.train.losses import bucket_logprobs, forward_kl_topk, span_loss, uld_loss
from distillab.train.objective import Objective
from distillab.train.xtok import attach_cross, score_sides, side_from_record, top_k_of


@pytest.fixture(scope="module")
def other_student(world: World) -> Path:
    """A student with another tokenizer over the same alphabet: numbers lose their leading space."""
    texts = [
        f"Ann has {i} pens. She gets {i % 7} more. How many now? {i} + {i % 7} = {i + i % 7}"
        for i in range(60)
    ]
    tokenizer = build_tokenizer(texts, vocab_size=400, number_space=False)
    out = world.root / "xtok-student"
    build_model(tokenizer, ModelSize(layers=1, dim=32, heads=2), seed=1).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_span_loss_is_the_binary_kl() -> None:
    student = torch.tensor([-0.1, -2.0, -5.0], requires_grad=True)
    teacher = torch.tensor([-0.2, -0.5, -5.0])
    p, q = teacher.exp(), student.detach().exp()
    expected = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).mean()
    got = span_loss(forward_kl_topk, student, teacher)
    assert torch.allclose(got, expected, atol=1e-5)
    got.backward()
    assert student.grad is not None and student.grad[2].abs() < 1e-4  # already equal: no pull
    empty = span_loss(forward_kl_topk, torch.zeros(0, requires_grad=True), torch.zeros(0))
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_uld_is_sorted_l1_with_zero_padding() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 3, 6)
    teacher = torch.log_softmax(torch.randn(2, 3, 4), dim=-1)  # a teacher with 4 tokens, the student 6
    mask = torch.tensor([[True, True, False], [False, True, True]])
    q = torch.softmax(student, -1).sort(-1, descending=True).values
    p = torch.nn.functional.pad(teacher.exp(), (0, 2)).sort(-1, descending=True).values
    expected = (q - p).abs().sum(-1)[mask].mean()
    shuffled = teacher[..., torch.tensor([2, 0, 3, 1])]  # order of the teacher's entries does not matter
    assert torch.allclose(uld_loss(student, shuffled, mask), expected, atol=1e-6)
    same = torch.log_softmax(student, -1)
    assert float(uld_loss(student, same, mask)) < 1e-6
    assert float(uld_loss(student, teacher, torch.zeros(2, 3, dtype=torch.bool))) == 0.0


@pytest.mark.parametrize("loss", ["fkl", "gjsd"])
def test_align_equals_same_tokenizer_kd_when_the_tokenizers_match(
    world: World, tmp_path: Path, loss: str
) -> None:
    data = load_harvest(world.harvest)
    tokenizer = AutoTokenizer.from_pretrained(world.student)
    kw = dict(vocab_size=len(tokenizer), max_length=256)
    same, stats = encode_records(data.records, tokenizer, with_signal=True, **kw)  # type: ignore[arg-type]
    cross, _ = encode_records(data.records, tokenizer, with_signal=False, **kw)  # type: ignore[arg-type]
    sides = [side_from_record(r, Vocab(tokenizer)) for r in data.records]
    xstats = attach_cross(cross, sides, tokenizer, method="align", k=top_k_of(sides))
    assert top_k_of(sides) == stats.top_k == 20 and xstats.spans == 0
    # Records the teacher sampled in the canonical split: the student's own tokens are the teacher's.
    pairs = [(a, b) for a, b in zip(same, cross) if a.input_ids == b.input_ids]
    assert len(pairs) > 0.5 * len(same)
    batch_same = collate([a for a, _ in pairs], 0, 20)
    batch_cross = collate([b for _, b in pairs], 0, 20)
    assert torch.equal(batch_same.kd_mask, batch_cross.kd_mask)
    config = TrainConfig(student=world.student, data=world.harvest, out=tmp_path / "o", loss=loss)
    logits = torch.randn(*batch_same.input_ids.shape, len(tokenizer))
    expected = Objective(config)(logits, batch_same)
    got = Objective(config, "align")(logits, batch_cross)
    assert expected.kd is not None and got.kd is not None
    assert torch.allclose(got.kd, expected.kd, rtol=1e-6) and torch.allclose(got.loss, expected.loss)


def test_harvest_records_its_local_teachers_tokenizer(world: World, tmp_path: Path) -> None:
    recorded = load_harvest(world.harvest).manifest["teacher"]["tokenizer"]
    assert recorded["path"] == "tokenizer" and recorded["size"] == 400 and len(recorded["vocab_sha256"]) == 64
    teacher = AutoTokenizer.from_pretrained(world.teacher)
    assert AutoTokenizer.from_pretrained(world.harvest / "tokenizer").get_vocab() == teacher.get_vocab()
    # the tokenizer's JSON files are not mistaken for data
    assert datasets.load_dataset(str(world.harvest), cache_dir=str(tmp_path))["train"].num_rows == 80


def test_align_on_another_tokenizer_trains_every_aligned_token(world: World, other_student: Path) -> None:
    data = load_harvest(world.harvest)
    tokenizer = AutoTokenizer.from_pretrained(other_student)
    examples, _ = encode_records(data.records, tokenizer, vocab_size=400, max_length=256, with_signal=False)
    teacher_vocab = Vocab(AutoTokenizer.from_pretrained(world.harvest / "tokenizer"))
    sides = [side_from_record(r, teacher_vocab) for r in data.records]
    stats = attach_cross(examples, sides, tokenizer, method="align", k=20)
    assert stats.one_to_one > 0 and stats.one_to_many > 0 and stats.aligned_tokens == stats.teacher_tokens
    # every teacher token is one group here (no many-to-one): a token-level position or a span each
    assert stats.one_to_one + stats.one_to_many + stats.spans == stats.teacher_tokens
    batch = collate(examples[:8], 0, 20)
    logits = torch.randn(*batch.input_ids.shape, 400, requires_grad=True)
    config = TrainConfig(student=other_student, data=world.harvest, out=world.root / "unused", loss="fkl")
    terms = Objective(config, "align")(logits, batch)
    assert terms.kd is not None and math.isfinite(float(terms.kd)) and float(terms.kd) > 0
    terms.loss.backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all())


def test_spans_and_positions_are_averaged_together(world: World, tmp_path: Path) -> None:
    # Completion 11 12 13: 11 has a top-k; the span 12 13 has the teacher's log-prob -1.5.
    batch = Batch(
        input_ids=torch.tensor([[10, 11, 12, 13]]),
        attention_mask=torch.ones(1, 4, dtype=torch.long),
        labels=torch.tensor([[-100, 11, 12, 13]]),
        kd_mask=torch.tensor([[False, True, False, False]]),
        topk_ids=torch.tensor([[[-1], [11], [-1], [-1]]]),
        topk_logprobs=torch.tensor([[[-math.inf], [-0.2], [-math.inf], [-math.inf]]]),
        spans=torch.tensor([[0, 2, 4]]),
        span_logprobs=torch.tensor([-1.5]),
    )
    logits = torch.randn(1, 4, 16)
    config = TrainConfig(student=world.student, data=world.harvest, out=tmp_path / "o", loss="fkl")
    got = Objective(config, "align")(logits, batch).kd
    logp = torch.log_softmax(logits, dim=-1)
    assert batch.topk_ids is not None and batch.topk_logprobs is not None
    ids, logprobs = batch.topk_ids[:, 1:], batch.topk_logprobs[:, 1:]
    token = forward_kl_topk(logits[:, :-1], ids, logprobs, batch.kd_mask[:, 1:])
    span = span_loss(forward_kl_topk, (logp[0, 1, 12] + logp[0, 2, 13])[None], torch.tensor([-1.5]))
    assert got is not None and torch.allclose(got, (token + span) / 2, atol=1e-6)


def test_one_to_many_scores_alternatives_jointly(world: World, tmp_path: Path) -> None:
    # Prompt token 10, completion 11 12: the teacher's one token covers both, so its alternatives (mapped
    # to 12 and 13 after the same leading 11) are compared with q(11) q(x | 11) at position 2.
    batch = Batch(
        input_ids=torch.tensor([[10, 11, 12]]),
        attention_mask=torch.ones(1, 3, dtype=torch.long),
        labels=torch.tensor([[-100, 11, 12]]),
        kd_mask=torch.tensor([[False, False, True]]),
        topk_ids=torch.tensor([[[-1, -1], [-1, -1], [12, 13]]]),
        topk_logprobs=torch.tensor([[[-math.inf] * 2, [-math.inf] * 2, [math.log(0.5), math.log(0.3)]]]),
        kd_prefix=torch.tensor([[0, 0, 1]]),
    )
    logits = torch.randn(1, 3, 16, requires_grad=True)
    config = TrainConfig(student=world.student, data=world.harvest, out=tmp_path / "o", loss="fkl")
    got = Objective(config, "align")(logits, batch).kd
    logp = torch.log_softmax(logits.detach(), dim=-1)
    joint = logp[0, 0, 11] + logp[0, 1, torch.tensor([12, 13])]
    student = bucket_logprobs(joint[None])
    teacher = bucket_logprobs(torch.tensor([[math.log(0.5), math.log(0.3)]]))
    expected = (teacher.exp() * (teacher - student)).sum()
    assert got is not None and torch.allclose(got, expected, atol=1e-5)
    Objective(config, "align")(logits, batch).loss.backward()
    assert logits.grad is not None and bool(logits.grad[0, 0].abs().sum() > 0)  # the leading token moves too


def test_numbers_split_from_their_space_are_one_to_many(world: World, other_student: Path) -> None:
    data = load_harvest(world.harvest)
    tokenizer = AutoTokenizer.from_pretrained(other_student)
    examples, _ = encode_records(data.records, tokenizer, vocab_size=400, max_length=256, with_signal=False)
    sides = [side_from_record(r, Vocab(AutoTokenizer.from_pretrained(world.teacher))) for r in data.records]
    stats = attach_cross(examples, sides, tokenizer, method="align", k=20)
    assert stats.one_to_many > 0
    space = tokenizer.convert_tokens_to_ids("Ġ")
    for e in examples:
        assert e.kd_prefix is not None and e.topk_ids is not None
        completion = e.input_ids[e.n_prompt :]
        for j in map(int, e.kd_prefix.nonzero()[0]):
            # " 12" -> " " + "12": one leading space, the number's alternatives mapped onto the number
            assert e.kd_prefix[j] == 1 and completion[j - 1] == space
            mapped = [tokenizer.decode([i]) for i in e.topk_ids[j] if i >= 0]
            assert mapped and all(m.isdigit() for m in mapped), mapped


def test_local_teacher_sides_stop_at_the_end_of_turn(world: World) -> None:
    records = load_harvest(world.harvest).records[:6]
    tokenizer = AutoTokenizer.from_pretrained(world.teacher)
    sides = score_sides(world.teacher_model(), tokenizer, records, top_k=5)
    for side, record in zip(sides, records):
        text = record["completion"].encode()
        assert b"".join(side.pieces) in (text, text + b"<|end|>")  # never the template's newline after it
        assert side.logprobs is not None and len(side.logprobs) == len(side.top) == len(side.pieces)
        assert all(len(row) == 5 for row in side.top_logprobs)


def _cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["distillab", "train", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return int(exit_.value.code or 0)


@pytest.mark.parametrize("method", ["align", "uld", "sft"])
def test_cli_trains_a_student_on_another_tokenizers_harvest(
    world: World,
    other_student: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    method: str,
) -> None:
    out = tmp_path / "o"
    args = ["--student", str(other_student), "--data", str(world.harvest), "--out", str(out)]
    code = _cli(
        monkeypatch, *args, "--loss", "fkl", "--cross-tokenizer", method, "--max-steps", "4", "--no-progress"
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"cross-tokenizer ({method}): trained 4 steps" in printed.out
    assert "the student's tokenizer (" in printed.err and "is not the teacher's" in printed.err
    record = json.loads((out / "distillab_train.json").read_text())
    assert record["loss"]["cross_tokenizer"] == method
    assert record["loss"]["kd_weight"] == (0.0 if method == "sft" else 0.5)
    assert (record["cross_tokenizer"] is None) == (method == "sft")
    assert ("kd" in record["eval"]) == (method != "sft")
    before, after = (AutoModelForCausalLM.from_pretrained(p) for p in (other_student, out))
    assert not torch.equal(before.lm_head.weight, after.lm_head.weight)
    assert (
        AutoTokenizer.from_pretrained(out).get_vocab()
        == AutoTokenizer.from_pretrained(other_student).get_vocab()
    )


def test_align_lowers_the_kd_term(world: World, other_student: Path, tmp_path: Path) -> None:
    kw = dict(student=other_student, loss="fkl", kd_weight=1.0)
    start, _ = train(world, tmp_path / "start", max_steps=1, **kw)  # type: ignore[arg-type]
    end, _ = train(world, tmp_path / "end", max_steps=40, **kw)  # type: ignore[arg-type]
    assert end.eval["kd"] < 0.8 * start.eval["kd"], (start.eval, end.eval)


def test_api_strings_harvest_is_detected_as_cross_tokenizer(
    world: World, other_student: Path, tmp_path: Path
) -> None:
    data = harvest(world.teacher, world.prompts, tmp_path / "h-strings", mode="strings", n=1)
    assert json.loads((data / "manifest.json").read_text())["teacher"]["tokenizer"] is None
    result, log = train(world, tmp_path / "kd", student=other_student, data=data, max_steps=3)
    assert "cross-tokenizer" in log and result.record["loss"]["cross_tokenizer"] == "align"
    assert result.record["cross_tokenizer"]["one_to_one"] > 0


def test_local_teacher_with_another_tokenizer(world: World, other_student: Path, tmp_path: Path) -> None:
    result, log = train(
        world,
        tmp_path / "kd",
        student=other_student,
        teacher=world.teacher,
        data=world.text_harvest,
        max_steps=3,
    )
    assert "scoring the" in log and result.record["loss"]["cross_tokenizer"] == "align"
    alignment = result.record["cross_tokenizer"]
    assert alignment["one_to_many"] > 0 and result.record["loss"]["signal"] == "logits"
    assert alignment["alternatives"] > 60 * alignment["one_to_one"]  # top-64 from the local teacher
    with pytest.raises(ConfigError, match="--on-policy needs a --teacher with the student's tokenizer"):
        train(world, tmp_path / "op", student=other_student, teacher=world.teacher, on_policy=0.5)


def test_ids_without_the_teacher_tokenizer_is_a_clear_error(
    world: World, other_student: Path, tmp_path: Path
) -> None:
    data = tmp_path / "h"
    shutil.copytree(world.harvest, data)
    shutil.rmtree(data / "tokenizer")
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["teacher"]["tokenizer"] = None
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError) as err:
        train(world, tmp_path / "x", student=other_student, data=data)
    message = str(err.value)
    assert str(other_student) in message and "token ids without its tokenizer" in message
    assert "losses that work: sft" in message
    with pytest.raises(ConfigError, match="--cross-tokenizer 'best' is not one of align, uld, sft"):
        TrainConfig(student=other_student, data=data, out=tmp_path / "y", cross_tokenizer="best")
