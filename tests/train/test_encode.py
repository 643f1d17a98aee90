"""Records -> token ids and aligned teacher top-k; the eval split; batches and their order."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from distillab.train.collate import collate, micro_batch, total_steps
from distillab.train.dataset import split_by_prompt
from distillab.train.encode import encode_records
from distillab.train.losses import IGNORE_INDEX
from distillab.train.vocab import StringToId

CHAT = [{"role": "user", "content": "Ann has 3 pens."}]


@pytest.fixture(scope="module")
def tok(tiny_model_dir: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def record(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "r",
        "prompt_id": "p",
        "messages": CHAT,
        "prompt": None,
        "completion": " pens.",
        "finish_reason": "stop",
        "tokens": None,
        "token_ids": None,
        "top_tokens": None,
        "top_ids": None,
        "top_logprobs": None,
    }
    return {**base, **kw}


def topk(ids: list[int], k: int = 2) -> dict[str, Any]:
    """Top-k rows whose first choice is the sampled token, then id 5, with fixed log-probs."""
    return {"top_ids": [[t, 5][:k] for t in ids], "top_logprobs": [[-0.1, -2.5][:k] for _ in ids]}


def encode(tok: PreTrainedTokenizerBase, records: list[dict[str, Any]], vocab: int = 400, **kw: Any) -> Any:
    return encode_records(
        records,
        tok,
        vocab_size=vocab,
        max_length=kw.pop("max_length", 256),
        with_signal=kw.pop("with_signal", True),
    )


def test_chat_record_prompt_then_completion_with_end_of_turn(tok: PreTrainedTokenizerBase) -> None:
    (example,), _ = encode(tok, [record()], with_signal=False)
    prompt = tok(
        tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True), add_special_tokens=False
    )["input_ids"]
    assert example.input_ids[: example.n_prompt] == prompt
    completion = tok.decode(example.input_ids[example.n_prompt :])
    assert completion.startswith(" pens.<|end|>")
    (cut,), _ = encode(tok, [record(finish_reason="length")], with_signal=False)
    assert tok.decode(cut.input_ids[cut.n_prompt :]) == " pens."  # never finished: no end token


def test_raw_prompt_gets_eos(tok: PreTrainedTokenizerBase) -> None:
    (example,), _ = encode(tok, [record(messages=None, prompt="import json")], with_signal=False)
    assert example.input_ids[-1] == tok.eos_token_id
    assert tok.decode(example.input_ids[: example.n_prompt]) == "import json"


def test_teacher_ids_used_as_sampled_even_when_not_canonical(tok: PreTrainedTokenizerBase) -> None:
    end = tok.convert_tokens_to_ids("<|end|>")
    pieces = [tok.convert_tokens_to_ids(p) for p in ("Ġ", "1", "2", ".")] + [end]
    assert tok(" 12.", add_special_tokens=False)["input_ids"] != pieces[:-1]  # not what re-tokenising gives
    (example,), stats = encode(tok, [record(completion=" 12.", token_ids=pieces, **topk(pieces))])
    assert example.input_ids[example.n_prompt :] == pieces and stats.exact_records == 1
    assert stats.aligned_fraction == 1.0 and not stats.trimmed_records
    assert example.topk_ids is not None and example.topk_ids[:, 0].tolist() == pieces


def test_ids_that_do_not_reproduce_keep_the_matching_prefix(tok: PreTrainedTokenizerBase) -> None:
    good = tok(" pens.", add_special_tokens=False)["input_ids"]
    teacher = good[:2] + [7, 8, 9]
    (example,), stats = encode(tok, [record(token_ids=teacher, **topk(teacher))])
    assert stats.exact_records == 0 and stats.trimmed_records == 1 and stats.aligned_tokens == 2
    assert example.topk_ids is not None and len(example.topk_ids) == 2


def test_ids_beyond_the_student_vocabulary_are_dropped(tok: PreTrainedTokenizerBase) -> None:
    ids = tok(" pens.", add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids("<|end|>")]
    rows = {"top_ids": [[t, 430] for t in ids], "top_logprobs": [[-0.1, -2.5] for _ in ids]}
    (example,), stats = encode(tok, [record(token_ids=ids, **rows)])
    assert stats.ids_beyond_vocab == len(ids) and example.topk_ids is not None
    assert example.topk_logprobs is not None and np.isinf(example.topk_logprobs[:, 1]).all()
    assert (example.topk_ids[:, 1] == -1).all()


def test_string_tokens_map_to_ids_with_split_characters_as_wildcards(tok: PreTrainedTokenizerBase) -> None:
    to_id = StringToId(tok)
    assert to_id(" 12") == tok.convert_tokens_to_ids("Ġ12") and to_id("12") == tok.convert_tokens_to_ids("12")
    assert to_id("<|end|>") == tok.convert_tokens_to_ids("<|end|>")
    assert to_id("\ufffd") == -1 and to_id("not one token") == -1
    text = " pens é."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    strings = [tok.decode([i]) for i in ids]
    assert strings.count("\ufffd") == 2  # "é" is two byte tokens, each shown as U+FFFD by an API
    rec = record(
        completion=text,
        finish_reason="length",
        tokens=strings,
        top_tokens=[[s, "x"] for s in strings],
        top_logprobs=[[-0.1, -3.0] for _ in strings],
    )
    (example,), stats = encode(tok, [rec])
    assert stats.aligned_tokens == len(ids) and stats.unmapped_strings == 2
    assert example.topk_ids is not None and example.topk_ids[:, 1].tolist() == [to_id("x")] * len(ids)


def test_long_records_are_cut_or_dropped(tok: PreTrainedTokenizerBase) -> None:
    long_prompt = record(messages=[{"role": "user", "content": "pens " * 80}])
    examples, stats = encode(
        tok, [record(completion=" pens" * 40), long_prompt], max_length=40, with_signal=False
    )
    assert len(examples) == 1 and len(examples[0].input_ids) == 40
    assert stats.truncated == 1 and stats.dropped_long_prompt == 1


def test_split_by_prompt_keeps_samples_of_a_prompt_together() -> None:
    keys = [f"p{i // 3}" for i in range(60)]  # 20 prompts x 3 samples
    train, held = split_by_prompt(keys, 0.1, seed=0)
    assert len(held) == 6 and sorted(train + held) == list(range(60))
    assert not {keys[i] for i in train} & {keys[i] for i in held}
    assert split_by_prompt(keys, 0.1, seed=0) == (train, held)
    assert split_by_prompt(keys, 0.1, seed=1) != (train, held)
    assert len(split_by_prompt(["a", "a", "b"], 0.01, seed=0)[1]) >= 1
    assert split_by_prompt(keys, 0.0, 0)[1] == []


def test_collate_places_targets_at_their_tokens(tok: PreTrainedTokenizerBase) -> None:
    ids = tok(" pens.", add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids("<|end|>")]
    examples, _ = encode(
        tok, [record(token_ids=ids, **topk(ids)), record(completion=" pen.", finish_reason="length")]
    )
    batch = collate(examples, pad_id=0, top_k=2)
    first = examples[0]
    p, n = first.n_prompt, len(first.input_ids)
    assert (batch.labels[0, :p] == IGNORE_INDEX).all() and batch.labels[0, p:n].tolist() == ids
    assert batch.kd_mask[0].nonzero().squeeze(1).tolist() == list(range(p, n)) and not batch.kd_mask[1].any()
    assert batch.topk_ids is not None and batch.topk_ids[0, p:n, 0].tolist() == ids
    assert batch.topk_logprobs is not None and math.isinf(float(batch.topk_logprobs[1, 0, 0]))
    assert batch.attention_mask.sum() == batch.tokens == n + len(examples[1].input_ids)


def test_data_order_is_a_pure_function_and_covers_each_epoch() -> None:
    n, size, world = 10, 2, 2
    epoch = [
        i
        for micro in range(3)
        for rank in range(world)
        for i in micro_batch(n, micro, size=size, seed=3, rank=rank, world=world)
    ]
    assert sorted(epoch[:n]) == list(range(n))  # first 10 positions: one whole permutation
    assert micro_batch(n, 7, size=size, seed=3, rank=1, world=world) == micro_batch(
        n, 7, size=size, seed=3, rank=1, world=world
    )
    assert micro_batch(n, 0, size=4, seed=3) != micro_batch(n, 0, size=4, seed=4)
    assert total_steps(100, epochs=2, max_steps=None, size=8, world=2, accum=2) == 7
    assert total_steps(100, epochs=2, max_steps=5, size=8, world=2, accum=2) == 5
    assert torch.equal(torch.tensor(micro_batch(n, 0, size=n, seed=0)).sort().values, torch.arange(n))


def test_two_strings_mapping_to_one_id_keep_it_once(tok: PreTrainedTokenizerBase) -> None:
    strings = [tok.decode([i]) for i in tok(" pens.", add_special_tokens=False)["input_ids"]]
    rec = record(
        finish_reason="length",
        tokens=strings,
        top_tokens=[[s, s, "x"] for s in strings],
        top_logprobs=[[-0.1, -0.2, -3.0] for _ in strings],
    )
    (example,), _ = encode(tok, [rec])
    assert example.topk_ids is not None and (example.topk_ids[:, 1] == -1).all()
    assert (example.topk_ids[:, 0] >= 0).all() and (example.topk_ids[:, 2] >= 0).all()
