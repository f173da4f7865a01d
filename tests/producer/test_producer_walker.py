"""Single walks follow the data: entries and links are drawn in proportion to n (chi-square, fixed seeds)."""

from __future__ import annotations

import bisect
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from producer_stats_helpers import assert_follows, binomial_within, quantile

from producer.model import ClickstreamModel, build_model, load_model
from producer.walker import DwellTime, Walker, _weighted_index

ROWS = [
    ("other-search", "Hub", "external", 5000),
    ("other-empty", "Hub", "other", 1500),
    ("other-external", "Leaf_1", "external", 700),
    ("other-internal", "Leaf_2", "external", 300),
    ("other-other", "Leaf_3", "other", 100),
    ("Hub", "Leaf_1", "link", 1200),
    ("Hub", "Leaf_2", "link", 600),
    ("Hub", "Leaf_3", "link", 150),
    ("Hub", "Leaf_4", "link", 50),
    ("Leaf_1", "Hub", "link", 400),
]


@pytest.fixture
def model(write_tsv, tmp_path: Path) -> ClickstreamModel:
    build_model(write_tsv(ROWS), tmp_path / "m.npz", progress=False)
    return load_model(tmp_path / "m.npz")


def test_entries_follow_entry_row_weights(model: ClickstreamModel) -> None:
    walker = Walker(model, random.Random(1))
    draws = Counter()
    for _ in range(20000):
        entry = walker.enter()
        draws[(entry.referrer, model.title(entry.article), entry.type)] += 1
    assert_follows(draws, {(prev, curr, kind): n for prev, curr, kind, n in ROWS if prev.startswith("other-")})


def test_links_follow_link_row_weights_and_stops_follow_p_continue(model: ClickstreamModel) -> None:
    walker = Walker(model, random.Random(2))
    hub = [model.title(i) for i in range(model.articles)].index("Hub")
    trials = 40000
    followed = Counter(model.title(a) for a in (walker.follow(hub) for _ in range(trials)) if a is not None)
    assert_follows(followed, {curr: n for prev, curr, kind, n in ROWS if prev == "Hub"})
    p_continue = (1200 + 600 + 150 + 50) / (5000 + 1500 + 400)
    assert float(model.p_continue[hub]) == pytest.approx(p_continue)
    assert binomial_within(sum(followed.values()), trials, p_continue)


def test_an_article_without_links_always_ends_the_session(model: ClickstreamModel) -> None:
    walker = Walker(model, random.Random(3))
    leaf = [model.title(i) for i in range(model.articles)].index("Leaf_4")
    assert {walker.follow(leaf) for _ in range(1000)} == {None}


def test_dwell_times_are_lognormal_around_the_median(model: ClickstreamModel) -> None:
    walker = Walker(model, random.Random(4), DwellTime(median_s=30.0, sigma=1.0))
    samples = [walker.dwell_s() for _ in range(20000)]
    assert 28.5 < quantile(samples, 0.5) < 31.5
    # log-dwell is normal: its standard deviation is sigma.
    assert np.std(np.log(samples)) == pytest.approx(1.0, rel=0.03)
    assert min(samples) > 0


def test_a_seed_fixes_the_walk(model: ClickstreamModel) -> None:
    def walk(seed: int) -> list[object]:
        walker = Walker(model, random.Random(seed))
        return [(walker.enter(), walker.follow(0), walker.dwell_s()) for _ in range(50)]

    assert walk(9) == walk(9)
    assert walk(9) != walk(10)


def test_a_weighted_draw_takes_the_bits_of_randrange() -> None:
    """The hand-inlined draw keeps a seed's stream what rng.randrange and a binary search made of it."""
    cum = np.cumsum(np.random.default_rng(0).integers(1, 2**40, size=300))
    ranges = [(lo, lo + width) for lo in (0, 1, 37, 250) for width in (1, 2, 7, 50)]
    ours, reference = random.Random(11), random.Random(11)
    for lo, hi in ranges * 20:
        base = int(cum[lo - 1]) if lo else 0
        expected = bisect.bisect_right(cum.tolist(), base + reference.randrange(int(cum[hi - 1]) - base), lo, hi)
        assert _weighted_index(cum, lo, hi, ours) == expected
