"""Detection: calibrated p-values, deduplication, and a peer check against published KGW implementations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from prove_world import MASTER, mark, random_keys, randomized_p, rng
from scipy.stats import kstest
from typer.testing import CliRunner

from distillab.cli.main import app
from distillab.errors import DataError
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.detect import Tally, detect, pairs, tally
from distillab.provenance.stats import P_FLOOR, binomial_log10_pvalue, binomial_pvalue, holm, z_score
from distillab.provenance.texts import read_texts


def _calibration(
    sequences: list[list[int]], config: WatermarkConfig, keys: int
) -> tuple[np.ndarray, np.ndarray]:
    """(exact p-values, randomized p-values) of the same unmarked text under `keys` unrelated keys."""
    u = rng(1).uniform(size=keys)
    exact, randomized = [], []
    for m, ui in zip(random_keys(keys, config), u):
        result = detect(sequences, m)
        g, n = result.sample_sizes["green_pairs"], result.sample_sizes["scored_pairs"]
        exact.append(result.p_value)
        randomized.append(randomized_p(g, n, config.gamma, ui))
    return np.asarray(exact), np.asarray(randomized)


@pytest.mark.parametrize("config", [WatermarkConfig(), WatermarkConfig(scheme="selfhash", context=3)])
def test_p_values_on_random_tokens_are_uniform_across_keys(config: WatermarkConfig) -> None:
    tokens = [list(rng(0).integers(0, 300, size=400))]
    exact, randomized = _calibration(tokens, config, 400)
    assert kstest(randomized, "uniform").pvalue > 1e-3
    assert (exact < 1e-3).sum() <= 3  # expected 0.4; P(>= 4) ~ 8e-4
    assert np.mean(exact < 0.05) <= 0.05 + 0.035  # exact p-values are conservative (discrete)


def test_p_values_on_a_models_unmarked_text_are_uniform_across_keys(plain_texts: list[list[int]]) -> None:
    exact, randomized = _calibration(plain_texts, WatermarkConfig(), 300)
    assert kstest(randomized, "uniform").pvalue > 1e-3
    assert (exact < 1e-3).sum() <= 3


def test_repeating_one_green_pair_a_thousand_times_is_not_evidence() -> None:
    m = mark(WatermarkConfig(context=1))
    green = m.green_mask([17], 400)
    follower = int(np.flatnonzero(green)[0])
    back = int(np.flatnonzero(m.green_mask([follower], 400))[0])  # 17 -> follower -> back -> ... all green
    text = [17] + [follower, back] * 1000
    result = detect(text, m)
    assert result.sample_sizes["positions"] == 2000 and result.effect["z_no_dedup"] > 30  # naive: "certain"
    assert result.sample_sizes["scored_pairs"] <= 3 and result.p_value > 0.01 and not result.significant


def test_watermarked_token_ids_are_detected_and_pooled_over_texts() -> None:
    m = mark(WatermarkConfig(delta=1.0))
    rows = []
    generator = torch.Generator().manual_seed(0)
    for start in range(8):  # sample from a biased uniform model: what serving does, without the model
        ids = [start]
        for _ in range(60):
            probs = torch.softmax(m.apply(torch.zeros(300), ids), dim=-1)
            ids.append(int(torch.multinomial(probs, 1, generator=generator)))
        rows.append(ids)
    single = detect(rows[0], m)
    pooled = detect(rows, m)
    assert pooled.p_value < 1e-10 and pooled.p_value < single.p_value < 0.05
    assert pooled.sample_sizes["texts"] == 8 and pooled.sample_sizes["scored_pairs"] <= 8 * 60
    assert detect(rows, mark(WatermarkConfig(delta=1.0), "someone-else")).p_value > 0.01


def test_stats_helpers_match_their_definitions() -> None:
    assert binomial_pvalue(0, 0, 0.25) == 1.0 and binomial_pvalue(0, 10, 0.25) == pytest.approx(1.0)
    assert binomial_pvalue(10, 10, 0.25) == pytest.approx(0.25**10)
    assert binomial_log10_pvalue(10, 10, 0.25) == pytest.approx(10 * math.log10(0.25))
    assert binomial_log10_pvalue(7, 30, 0.25) == pytest.approx(math.log10(binomial_pvalue(7, 30, 0.25)))
    # Far in the tail the float p-value is floored (never 0); its exact magnitude is in log10_p.
    assert binomial_pvalue(2000, 2000, 0.25) == P_FLOOR
    assert binomial_log10_pvalue(2000, 2000, 0.25) == pytest.approx(2000 * math.log10(0.25))
    assert z_score(5, 10, 0.5) == 0.0 and z_score(7, 12, 0.25) == pytest.approx(
        (7 - 3) / math.sqrt(12 * 0.1875)
    )
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


# -- peer check -----------------------------------------------------------------------------------------


class _Oracle:
    """A Scorer whose green lists come from a reference implementation's `green(window, token)`."""

    def __init__(self, config: WatermarkConfig, green: object):
        self.config, self._green, self._ids = config, green, {}

    def hashes(self, windows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        keys = [(tuple(w), int(t)) for w, t in zip(windows.tolist(), tokens.tolist())]
        return np.asarray([self._ids.setdefault(k, len(self._ids)) for k in keys], dtype=np.uint64)

    def green(self, hashes: np.ndarray) -> np.ndarray:
        pairs = {v: k for k, v in self._ids.items()}
        return np.asarray([self._green(*pairs[int(h)]) for h in hashes], dtype=bool)  # type: ignore[operator]


def test_z_without_dedup_matches_a_hand_computed_kgw_example() -> None:
    # Vocabulary of 10, gamma 0.3, context 1; green lists written out by hand.
    lists = {
        0: {1, 2, 3},
        1: {0, 4, 5},
        2: {6, 7, 8},
        3: {9, 0, 1},
        4: {2, 3, 4},
        5: {5, 6, 7},
        6: {8, 9, 0},
        7: {1, 3, 5},
        8: {2, 4, 6},
        9: {7, 8, 9},
    }
    oracle = _Oracle(WatermarkConfig(context=1, gamma=0.3), lambda w, t: t in lists[w[0]])
    text = [0, 1, 0, 1, 4, 2, 9, 3, 3, 0, 1]
    # Scored: (0,1) g, (1,0) g, (0,1) g, (1,4) g, (4,2) g, (2,9) r, (9,3) r, (3,3) r, (3,0) g, (0,1) g
    result = detect(text, oracle)  # type: ignore[arg-type]
    assert result.sample_sizes["positions"] == 10
    assert result.effect["z_no_dedup"] == pytest.approx((7 - 0.3 * 10) / math.sqrt(10 * 0.3 * 0.7))
    # Distinct pairs: (0,1) (1,0) (1,4) (4,2) (3,0) green; (2,9) (9,3) (3,3) red -> 5 of 8
    assert (result.sample_sizes["scored_pairs"], result.sample_sizes["green_pairs"]) == (8, 5)
    assert result.p_value == pytest.approx(
        sum(math.comb(8, k) * 0.3**k * 0.7 ** (8 - k) for k in range(5, 9))
    )


@pytest.mark.parametrize("context", [1, 3])
def test_z_without_dedup_matches_transformers_kgw_detector(context: int) -> None:
    """transformers' WatermarkDetector (ported from the KGW authors' code) on the same tokens and lists."""
    from transformers import WatermarkDetector, WatermarkingConfig

    watermarking = WatermarkingConfig(
        greenlist_ratio=0.25, bias=2.0, seeding_scheme="lefthash", context_width=context
    )
    config = type("Config", (), {"vocab_size": 300, "bos_token_id": 299, "is_encoder_decoder": False})()
    reference = WatermarkDetector(config, "cpu", watermarking)  # type: ignore[arg-type]
    processor = reference.processor
    oracle = _Oracle(
        WatermarkConfig(context=context, gamma=0.25),
        lambda w, t: t in processor._get_greenlist_ids(torch.tensor(w)).tolist(),
    )
    # Marked text from transformers' own logits processor, with repeats.
    ids = torch.tensor([[5, 9, 13]])
    generator = torch.Generator().manual_seed(0)
    for _ in range(80):
        scores = processor(ids, torch.zeros(1, 300))
        ids = torch.cat([ids, torch.multinomial(torch.softmax(scores, -1), 1, generator=generator)], dim=1)
    ids = torch.cat([ids, ids[:, 3:30]], dim=1)
    expected = reference(ids, return_dict=True)
    ours = detect(ids[0].tolist(), oracle)  # type: ignore[arg-type]
    assert ours.sample_sizes["positions"] == int(expected.num_tokens_scored[0])
    assert ours.effect["z_no_dedup"] == pytest.approx(float(expected.z_score[0]))
    deduped = WatermarkDetector(config, "cpu", watermarking, ignore_repeated_ngrams=True)(
        ids, return_dict=True
    )
    assert ours.sample_sizes["scored_pairs"] == int(deduped.num_tokens_scored[0])
    assert ours.effect["z"] == pytest.approx(float(deduped.z_score[0]))
    # And the bias is the same operation as transformers' processor, given the same green list.
    scores = torch.randn(1, 300)
    green = torch.zeros(300, dtype=torch.bool)
    green[processor._get_greenlist_ids(ids[0, -context:])] = True
    assert torch.allclose(processor(ids, scores.clone())[0], scores[0] + 2.0 * green)


def test_z_without_dedup_matches_markllm_kgw() -> None:
    """MarkLLM's KGW, when installed (its PyPI dependencies would downgrade openai, so it is not a test
    dependency)."""
    kgw = pytest.importorskip("markllm.watermark.kgw.kgw")
    settings = {
        "gamma": 0.5,
        "delta": 2.0,
        "hash_key": 15485863,
        "z_threshold": 4.0,
        "prefix_length": 1,
        "f_scheme": "time",
        "window_scheme": "left",
    }
    reference_config = type("KGWConfig", (), {**settings, "vocab_size": 300, "device": "cpu"})()
    utils = kgw.KGWUtils(reference_config)
    oracle = _Oracle(
        WatermarkConfig(context=1, gamma=0.5),
        lambda w, t: t in utils.get_greenlist_ids(torch.tensor(w)).tolist(),
    )
    tokens = rng(3).integers(0, 300, size=120).tolist() * 2
    z, _ = utils.score_sequence(torch.tensor(tokens))
    assert detect(tokens, oracle).effect["z_no_dedup"] == pytest.approx(z)  # type: ignore[arg-type]


def test_exclusions_and_first_seen_order() -> None:
    m = mark()
    windows, tokens = pairs([[1, 2, 3, 2, 3, 4]], 1)
    full = tally(m, windows, tokens)
    assert (full.scored, full.scored_all) == (4, 5)
    skipped = tally(m, windows, tokens, exclude=m.hashes(np.array([[2]]), np.array([3])))
    assert (skipped.scored, skipped.excluded) == (3, 2)
    scored, p = full.curve(0.25)
    assert scored.tolist() == [1, 2, 3, 4] and p[-1] == pytest.approx(binomial_pvalue(full.green, 4, 0.25))


def test_pairs_to_reach_is_the_first_crossing_of_the_running_p_value() -> None:
    counts = Tally(scored=12, green=9, scored_all=12, green_all=9)
    counts.in_order = np.array([1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0], dtype=bool)
    scored, p = counts.curve(0.25)
    assert p[4] < 1e-3 <= p[3] and p[6] > 1e-3 and not (p < 1e-5).any()  # crosses, rises, falls again
    assert counts.pairs_to_reach(0.25) == {"0.001": 5, "1e-05": None}
    assert counts.pairs_to_reach(0.25, (0.5, 1e-4)) == {"0.5": 1, "0.0001": None}
    marked = [list(rng(4).integers(0, 300, size=50))]
    result = detect(marked, mark())
    assert result.details["pairs_to_reach"] == tally(mark(), *pairs(marked, 1)).pairs_to_reach(0.25)


# -- files and the CLI ----------------------------------------------------------------------------------


def test_read_texts_formats_and_errors(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("plain text")
    (tmp_path / "h.jsonl").write_text('{"completion": "one"}\n\n{"response": null}\n{"response": "two"}\n')
    assert read_texts(tmp_path / "a.txt") == ["plain text"]
    assert read_texts(tmp_path / "h.jsonl") == ["one", "two"]
    (tmp_path / "bad.jsonl").write_text('{"completion": "one"}\n{"prompt": "x"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: no text field"):
        read_texts(tmp_path / "bad.jsonl")
    (tmp_path / "broken.jsonl").write_text('{"completion": "one"}\n{oops\n')
    with pytest.raises(DataError, match=r"broken.jsonl:2: not valid JSON"):
        read_texts(tmp_path / "broken.jsonl")
    with pytest.raises(DataError, match="not a harvest dataset"):
        read_texts(tmp_path)


def test_detect_cli_on_text_and_jsonl(teacher_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    m = mark(WatermarkConfig(delta=4.0))
    vocab = len(tokenizer)
    allowed = torch.tensor(["\ufffd" not in tokenizer.decode([i]) for i in range(vocab)])
    generator = torch.Generator().manual_seed(1)
    texts = []
    for start in range(6):
        ids = tokenizer("The cat", add_special_tokens=False)["input_ids"] + [start + 40]
        for _ in range(50):
            logits = m.apply(torch.zeros(vocab), ids).masked_fill(~allowed, -1e9)
            ids.append(int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)))
        texts.append(tokenizer.decode(ids))
    key = tmp_path / "wm.key"
    key.write_bytes(MASTER)
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps({"response": t}) + "\n" for t in texts))
    runner = CliRunner()
    out = tmp_path / "detect.json"
    done = runner.invoke(
        app,
        [
            "watermark",
            "detect",
            "--tokenizer",
            str(teacher_dir),
            "--key-file",
            str(key),
            "--out",
            str(out),
            str(tmp_path / "answers.jsonl"),
        ],
    )
    assert done.exit_code == 0, done.output
    test = json.loads(out.read_text())["tests"][0]
    assert test["p_value"] < 1e-6 and test["name"] == "watermark/detect"
    (tmp_path / "one.txt").write_text(texts[0])
    other = runner.invoke(
        app,
        [
            "watermark",
            "detect",
            "--tokenizer",
            str(teacher_dir),
            "--key-file",
            str(key),
            "--account",
            "acme",
            "--account",
            "globex",
            str(tmp_path / "one.txt"),
        ],
    )
    assert other.exit_code == 0 and "acme" in other.output and "Not significant" in other.output
    missing = runner.invoke(
        app,
        [
            "watermark",
            "detect",
            "--tokenizer",
            str(teacher_dir),
            "--key-file",
            str(tmp_path / "nope.key"),
            str(tmp_path / "one.txt"),
        ],
    )
    assert missing.exit_code != 0 and "nope.key" in str(missing.exception)
