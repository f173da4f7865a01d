"""The compact model: CSR adjacency, entry table, end probabilities, synthetic flag, staleness."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from producer.clickstream import ClickstreamError
from producer.datasets import ensure_model, model_path_for
from producer.model import build_model, load_model, model_is_current

ROWS = [
    ("other-search", "Zürich", "external", 600),
    ("other-empty", "Zürich", "other", 200),
    ("other-internal", "Bern", "external", 50),
    ("Zürich", "Bern", "link", 300),
    ("Zürich", "Basel", "link", 100),
    ("Zürich", "Genf", "other", 40),  # a click without a link: incoming for Genf, never followed
    ("Bern", "Zürich", "link", 30),
    ("Basel", "Zürich", "link", 500),  # more out than in: the cap applies
]


def _links(model, title: str) -> dict[str, int]:
    index = [model.title(i) for i in range(model.articles)].index(title)
    lo, hi = model.link_indptr[index], model.link_indptr[index + 1]
    cum = np.concatenate([[model.link_cum[lo - 1] if lo else 0], model.link_cum[lo:hi]])
    return {model.title(int(dst)): int(n) for dst, n in zip(model.link_dst[lo:hi], np.diff(cum), strict=True)}


@pytest.fixture
def model(write_tsv, tmp_path: Path):
    out = tmp_path / "m.npz"
    build_model(write_tsv(ROWS, "clickstream-dewiki-2024-01.tsv.gz"), out, continue_cap=0.9, progress=False)
    return load_model(out)


def test_titles_are_interned_with_utf8_intact(model) -> None:
    assert sorted(model.title(i) for i in range(model.articles)) == ["Basel", "Bern", "Genf", "Zürich"]


def test_link_rows_form_a_weighted_adjacency(model) -> None:
    assert _links(model, "Zürich") == {"Bern": 300, "Basel": 100}
    assert _links(model, "Bern") == {"Zürich": 30}
    assert _links(model, "Genf") == {}


def test_entry_rows_keep_referrer_type_and_weight(model) -> None:
    entries = [
        (("other-search", "other-external", "other-internal", "other-empty", "other-other")[r], model.title(c), t)
        for r, c, t in zip(model.entry_referrer, model.entry_curr, model.entry_type, strict=True)
    ]
    assert entries == [("other-search", "Zürich", 1), ("other-empty", "Zürich", 2), ("other-internal", "Bern", 1)]
    assert list(np.diff(model.entry_cum, prepend=0)) == [600, 200, 50]


def test_continue_probability_is_out_links_over_incoming_clicks_capped(model) -> None:
    p = {model.title(i): float(model.p_continue[i]) for i in range(model.articles)}
    assert p["Zürich"] == pytest.approx(400 / (600 + 200 + 30 + 500))
    assert p["Bern"] == pytest.approx(30 / (50 + 300))
    assert p["Basel"] == pytest.approx(0.9)  # 500 out of 100 in
    assert p["Genf"] == 0.0


def test_real_dump_names_are_not_flagged_synthetic(model) -> None:
    assert model.synthetic is False
    assert "SYNTHETIC" not in model.describe()


def test_synthetic_names_are_flagged(write_tsv, tmp_path: Path) -> None:
    out = tmp_path / "m.npz"
    build_model(write_tsv(ROWS, "clickstream-synthetic-x.tsv"), out, progress=False)
    assert load_model(out).synthetic is True
    assert "SYNTHETIC" in load_model(out).describe()


def test_a_clickstream_without_entry_rows_is_an_error(write_tsv, tmp_path: Path) -> None:
    with pytest.raises(ClickstreamError, match="no entry rows"):
        build_model(write_tsv([("A", "B", "link", 20)]), tmp_path / "m.npz", progress=False)


def test_the_cached_model_is_rebuilt_when_the_source_changes(write_tsv, tmp_path: Path) -> None:
    source = write_tsv(ROWS)
    model_path = model_path_for(source, tmp_path / "cache")
    assert model_path.name == "clickstream-test.model.npz"
    assert ensure_model(source, model_path).articles == 4
    assert model_is_current(model_path, source)
    write_tsv([*ROWS, ("Genf", "Lugano", "link", 15)])
    os.utime(source, ns=(1, 1))  # a different mtime even on coarse-grained file systems
    assert not model_is_current(model_path, source)
    assert ensure_model(source, model_path).articles == 5
