"""Sampled signal (`--draws K`): ids drawn from a local teacher's full distribution, stored compactly,
reproducible from the manifest's seed, unchanged by resume; refused for an HTTP teacher."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, AutoTokenizer

from distillab.data.config import HarvestConfig
from distillab.data.harvest import run_harvest
from distillab.data.records import read_records
from distillab.errors import ConfigError
from distillab.models.draws import draw, draw_generator

K = 12


def harvest(teacher: Path | str, prompts: Path, out: Path, **kw: Any) -> str:
    settings: dict[str, Any] = {"n": 2, "max_tokens": 6, "draws": K, "progress": False, **kw}
    config = HarvestConfig(teacher=str(teacher), prompts=prompts, out=out, **settings)
    buffer = io.StringIO()
    run_harvest(config, console=Console(file=buffer, width=400))
    return buffer.getvalue()


def by_id(out: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in read_records(out).to_pylist()}


def test_draws_are_stored_with_counts_entropy_and_the_seed(
    tiny_model_dir: Path, write_prompts, tmp_path: Path
) -> None:
    log = harvest(tiny_model_dir, write_prompts(3), tmp_path / "h")
    assert "without --seed: drawing (and sampling) with seed 0" in log
    manifest = json.loads((tmp_path / "h" / "manifest.json").read_text())
    assert manifest["identity"]["signal"] == "sampled"
    assert (
        manifest["identity"]["params"]["draws"] == K and manifest["identity"]["params"]["top_logprobs"] == 0
    )
    assert (
        manifest["draws"]["k"] == K
        and manifest["draws"]["seed"] == 0
        and "temperature 1" in (manifest["draws"]["rule"])
    )
    records = read_records(tmp_path / "h").to_pylist()
    assert len(records) == 6
    for record in records:
        positions = len(record["token_ids"])
        assert len(record["draw_ids"]) == len(record["draw_counts"]) == len(record["entropy"]) == positions
        assert record["top_ids"] is None and record["top_logprobs"] is None
        for ids, counts in zip(record["draw_ids"], record["draw_counts"]):
            assert ids == sorted(set(ids)) and sum(counts) == K and min(counts) >= 1


def test_draws_follow_the_teachers_distribution(tiny_model_dir: Path, write_prompts, tmp_path: Path) -> None:
    """Each position's entropy is the teacher's own at that position, and the drawn ids are likely ones:
    their mean teacher log-probability is the negative entropy, within its standard error."""
    harvest(tiny_model_dir, write_prompts(4), tmp_path / "h", n=1, max_tokens=8, seed=3)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    entropies: list[float] = []
    drawn: list[float] = []
    for record in read_records(tmp_path / "h").to_pylist():
        messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        head = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prompt = tokenizer(head, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + record["token_ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0, len(prompt) - 1 : -1].float(), -1)
        entropies += (-(logp.exp() * logp).sum(-1)).tolist()
        assert record["entropy"] == pytest.approx(entropies[-len(record["entropy"]) :], rel=2e-3, abs=2e-3)
        for t, (row, counts) in enumerate(zip(record["draw_ids"], record["draw_counts"])):
            for i, c in zip(row, counts):
                drawn += [float(logp[t, i])] * c
    # E_{x~p}[log p(x)] = -H(p): the drawn ids' mean log-probability against the positions' mean entropy.
    mean, se = torch.tensor(drawn).mean(), torch.tensor(drawn).std() / len(drawn) ** 0.5
    assert abs(float(mean) + sum(entropies) / len(entropies)) < 4 * float(se)


def test_same_seed_same_draws_and_the_text_of_a_topk_harvest(
    tiny_model_dir: Path, write_prompts, tmp_path: Path
) -> None:
    prompts = write_prompts(3)
    harvest(tiny_model_dir, prompts, tmp_path / "a", seed=5)
    harvest(tiny_model_dir, prompts, tmp_path / "b", seed=5)
    harvest(tiny_model_dir, prompts, tmp_path / "c", seed=6)
    harvest(tiny_model_dir, prompts, tmp_path / "topk", seed=5, draws=0)
    a, b, c = by_id(tmp_path / "a"), by_id(tmp_path / "b"), by_id(tmp_path / "c")
    assert a == {k: {**v, "created": a[k]["created"]} for k, v in b.items()}
    assert [r["draw_ids"] for r in a.values()] != [r["draw_ids"] for r in c.values()]
    # Draws come from their own generator: asking for them changes no text.
    topk = sorted(
        (r["prompt_id"], r["sample_index"], r["completion"]) for r in by_id(tmp_path / "topk").values()
    )
    assert topk == sorted((r["prompt_id"], r["sample_index"], r["completion"]) for r in a.values())
    # Two prompts do not share random numbers: the first draws of sample 0 differ across prompts.
    firsts = {r["prompt_id"]: r["draw_ids"][0] for r in a.values() if r["sample_index"] == 0}
    assert len({tuple(v) for v in firsts.values()}) == len(firsts)


def test_resume_keeps_stored_draws_and_draws_new_ones_as_a_single_run_would(
    tiny_model_dir: Path, write_prompts, tmp_path: Path
) -> None:
    prompts = write_prompts(3)
    harvest(tiny_model_dir, prompts, tmp_path / "resumed", n=1, seed=9)
    first = by_id(tmp_path / "resumed")
    log = harvest(tiny_model_dir, prompts, tmp_path / "resumed", n=3, seed=9, n_per_request=1)
    assert "resuming: 3 records already stored" in log
    resumed = by_id(tmp_path / "resumed")
    assert all(resumed[k] == v for k, v in first.items())
    harvest(tiny_model_dir, prompts, tmp_path / "once", n=3, seed=9)
    once = by_id(tmp_path / "once")
    assert resumed.keys() == once.keys()
    for key, record in once.items():
        assert resumed[key]["draw_ids"] == record["draw_ids"], key
        assert resumed[key]["draw_counts"] == record["draw_counts"], key


def test_scoring_draws_at_the_given_tokens(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = [
        {"id": "c1", "messages": [{"role": "user", "content": "Ann has 3 pens."}], "completion": "Three."}
    ]
    prompts = tmp_path / "answers.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for out in ("s1", "s2"):
        run_harvest(
            HarvestConfig(
                teacher=str(tiny_model_dir),
                prompts=prompts,
                out=tmp_path / out,
                score=True,
                draws=K,
                progress=False,
            ),
            console=Console(quiet=True),
        )
    [one], [two] = read_records(tmp_path / "s1").to_pylist(), read_records(tmp_path / "s2").to_pylist()
    assert one["draw_ids"] == two["draw_ids"] and one["completion"] == "Three."
    assert len(one["draw_ids"]) == len(one["token_ids"]) and all(sum(c) == K for c in one["draw_counts"])
    manifest = json.loads((tmp_path / "s1" / "manifest.json").read_text())
    assert manifest["mode"] == "score" and manifest["identity"]["signal"] == "sampled"


@pytest.mark.parametrize("score", [False, True])
def test_an_http_teacher_cannot_give_draws(write_prompts, score: bool) -> None:
    with pytest.raises(ConfigError, match="needs a local teacher.*only its top-k alternatives"):
        HarvestConfig(
            teacher="http://127.0.0.1:9/v1", prompts=write_prompts(1), out=Path("x"), draws=K, score=score
        )


def test_draw_is_reproducible_and_counts_sum_to_k() -> None:
    logits = torch.randn(5, 50, generator=torch.Generator().manual_seed(0))
    logp = torch.log_softmax(logits, -1)
    one = draw(logp, K, draw_generator(1, [4, 5], torch.device("cpu")))
    two = draw(logp, K, draw_generator(1, [4, 5], torch.device("cpu")))
    other = draw(logp, K, draw_generator(1, [4, 6], torch.device("cpu")))
    assert one == two and one.ids != other.ids
    assert all(sum(c) == K for c in one.counts)
    assert one.entropy == pytest.approx((-(logp.exp() * logp).sum(-1)).tolist(), rel=1e-5)


def test_the_http_teacher_itself_refuses_draws_before_sending_anything() -> None:
    import asyncio

    from distillab.teacher.base import SamplingParams
    from distillab.teacher.http import HTTPTeacher

    async def ask() -> None:
        teacher = HTTPTeacher("http://127.0.0.1:9/v1", model="m")
        try:
            with pytest.raises(ConfigError, match="needs a local teacher"):
                await teacher.generate("x", SamplingParams(draws=K))
            with pytest.raises(ConfigError, match="needs a local teacher"):
                await teacher.score("x", "y", 0, draws=K)
        finally:
            await teacher.aclose()

    asyncio.run(ask())
