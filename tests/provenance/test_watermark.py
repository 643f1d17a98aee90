"""The watermark itself: config validation, keys, green lists, and the bias on logits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from prove_world import MASTER, mark

from distillab.errors import ConfigError
from distillab.provenance.config import WatermarkConfig
from distillab.provenance.keys import KEY_ENV, derive, key_id, load_key
from distillab.provenance.watermark import Watermark, Watermarker


def test_config_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        WatermarkConfig(scheme="md5", context=0, gamma=1.0, delta=-1)
    assert len(info.value.problems) == 4
    assert WatermarkConfig(scheme="selfhash", context=4).width == 3
    assert WatermarkConfig(context=2).width == 2


def test_keys_are_derived_per_account_and_named_without_revealing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert derive(MASTER, "acme") != derive(MASTER, "globex") != derive(MASTER)
    assert derive(MASTER, "acme") == derive(MASTER, "acme") and len(derive(MASTER)) == 32
    assert key_id(derive(MASTER)) != key_id(derive(MASTER, "acme")) and len(key_id(MASTER)) == 12
    file = tmp_path / "wm.key"
    file.write_text("  " + MASTER.decode() + "\n")
    assert load_key(file) == MASTER
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert load_key(None) is None
    monkeypatch.setenv(KEY_ENV, MASTER.decode())
    assert load_key(None) == MASTER
    file.write_text("short")
    with pytest.raises(ConfigError, match="wm.key.*5 bytes"):
        load_key(file)
    with pytest.raises(ConfigError, match="missing.key"):
        load_key(tmp_path / "missing.key")


@pytest.mark.parametrize(
    "config",
    [
        WatermarkConfig(),
        WatermarkConfig(context=3),
        WatermarkConfig(scheme="selfhash", context=1),
        WatermarkConfig(scheme="selfhash", context=4, gamma=0.5),
    ],
)
def test_green_mask_agrees_with_pair_hashes_and_has_gamma_share(config: WatermarkConfig) -> None:
    m = mark(config)
    context = [11, 7, 3, 250]
    green = m.green_mask(context, 5000)
    assert green.mean() == pytest.approx(config.gamma, abs=0.03)
    windows = (
        np.tile(np.asarray(context[len(context) - m.width :]), (5000, 1)) if m.width else np.zeros((5000, 0))
    )
    assert (m.green(m.hashes(windows, np.arange(5000))) == green).all()
    assert not (mark(config, "other").green_mask(context, 5000) == green).all()
    if config.context > 1:  # the list moves with the context
        assert not (m.green_mask([*context[:-1], 251], 5000) == green).all()


def test_selfhash_colour_depends_on_the_candidate_through_min_hash() -> None:
    m = mark(WatermarkConfig(scheme="selfhash", context=3))
    # Changing a context token changes the colour only for candidates whose seed it held.
    a, b = m.green_mask([5, 6, 7], 3000), m.green_mask([5, 6, 8], 3000)
    assert 0 < (a != b).mean() < 0.3


def test_apply_adds_delta_exactly_to_the_green_tokens() -> None:
    m = mark(WatermarkConfig(delta=2.5, context=2))
    logits = torch.randn(400)
    out = m.apply(logits, [3, 9, 12])
    green = torch.from_numpy(m.green_mask([9, 12], 400))
    assert torch.allclose(out[green], logits[green] + 2.5) and torch.equal(out[~green], logits[~green])
    batch = m.apply(torch.stack([logits, logits]), [[3, 9, 12], [1]])
    assert torch.allclose(batch[0], out) and torch.equal(batch[1], logits)  # too short a context: unmarked


def test_watermarker_keys_accounts_only_in_per_account_mode() -> None:
    config = WatermarkConfig()
    shared = Watermarker(config, MASTER)
    assert shared.for_account("acme").key_id == shared.for_account(None).key_id == key_id(derive(MASTER))
    per = Watermarker(config, MASTER, per_account=True, cache_accounts=2)
    assert per.for_account("acme").key_id == key_id(derive(MASTER, "acme"))
    assert per.for_account("globex").account == "globex" and per.for_account(None).account is None
    assert per.for_account("acme") is not None and len(per._marks) == 2  # bounded cache


def test_green_masks_are_fast_for_a_large_vocabulary() -> None:
    m = Watermark(WatermarkConfig(), derive(MASTER))
    bias = m.bias([42], 150_000)
    assert bias.shape == (150_000,) and float(bias.sum()) == pytest.approx(2.0 * 150_000 * 0.25, rel=0.02)
    assert m.bias([42], 150_000) is bias  # cached per context
