"""Scoring batches bounded by the memory of their logits, and scores that do not depend on the grouping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distillab.logit_batches import logit_batches
from distillab.models.load import load_model
from distillab.provenance.membership import answer_scores
from distillab.provenance.radioactivity import suspect_predictions


def test_groups_keep_order_and_stay_within_the_budget_and_the_batch_size() -> None:
    lengths = [10, 12, 50, 8, 8, 8, 8, 8, 200, 3]
    vocab, budget = 100, 4 * 100 * 40  # room for 40 positions of logits
    groups = list(logit_batches(lengths, vocab, batch_size=3, budget=budget))
    assert [i for g in groups for i in g] == list(range(len(lengths)))
    assert groups == [[0, 1], [2], [3, 4, 5], [6, 7], [8], [9]]
    for group in groups:
        assert len(group) <= 3
        # over the budget only as a row alone (50 and 200 positions)
        assert len(group) * max(lengths[i] for i in group) * vocab * 4 <= budget or len(group) == 1
    # A real vocabulary: 8 rows of 512 tokens at 150k would be 2.5 GB; at most 3 fit in 1 GiB.
    assert {len(g) for g in logit_batches([512] * 8, 151_936, batch_size=8)} == {3, 2}
    assert list(logit_batches([], 10, 4)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(logit_batches([1], 10, 0))


def test_scores_do_not_depend_on_how_rows_are_grouped(tiny_model_dir: Path, teacher_dir: Path) -> None:
    model, tokenizer = load_model(str(tiny_model_dir), device="cpu")
    answers = [
        {"prompt": f"Ann has {i} pens. ", "completion": "She gives " * (1 + i % 5) + "them away."}
        for i in range(12)
    ]
    one, many = (answer_scores(model, tokenizer, answers, batch_size=b) for b in (1, 8))
    assert np.isfinite(one).all() and np.allclose(one, many, atol=1e-5)
    sequences = [tokenizer(a["prompt"] + a["completion"])["input_ids"] for a in answers]
    windows_1, tokens_1 = suspect_predictions(model, sequences, 1, batch_size=1)
    windows_8, tokens_8 = suspect_predictions(model, sequences, 1, batch_size=8)
    assert len(tokens_1) == sum(len(s) for s in sequences)
    assert (windows_1 == windows_8).all() and (tokens_1 == tokens_8).all()
    reference = load_model(str(teacher_dir), device="cpu")[0]  # another model of the same vocabulary
    rising_1 = suspect_predictions(model, sequences, 1, batch_size=1, reference=reference, candidates=5)[1]
    rising_8 = suspect_predictions(model, sequences, 1, batch_size=8, reference=reference, candidates=5)[1]
    assert (rising_1 == rising_8).all()
