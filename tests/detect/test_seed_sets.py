"""The independent generator's seed sets (tests/traffic/seeds.py): no seed is both held out and used
for development, except the one overlap found after the fact and reported with its numbers."""

from __future__ import annotations

from itertools import product

from traffic import seeds


def test_no_held_out_seed_is_a_development_seed() -> None:
    found = {
        (held, dev): shared
        for (held, held_seeds), (dev, dev_seeds) in product(seeds.HELD_OUT.items(), seeds.DEVELOPMENT.items())
        if (shared := held_seeds & dev_seeds)
    }
    assert found == seeds.KNOWN_OVERLAPS


def test_each_set_names_its_own_seeds() -> None:
    held = [s for group in seeds.HELD_OUT.values() for s in group]
    assert seeds.REFERENCE[0] in seeds.HELD_OUT["LOGS"] and seeds.DEV_REFERENCE[0] in seeds.DEVELOPMENT["DEV"]
    assert {801, 802, 803, 905} <= seeds.HELD_OUT["HELDOUT_5"]
    # Nor do two held-out sets share a seed.
    assert len(held) - len(set(held)) == 0
