"""The synthetic dataset: deterministic, in the dump format, and labelled synthetic wherever it appears."""

from __future__ import annotations

from pathlib import Path

import pytest

from producer.clickstream import ParseReport, iter_rows
from producer.errors import ProducerError
from producer.synthetic import MIN_PUBLISHED_N, write_synthetic_clickstream
from wikistream.events import REFERRER_CLASSES


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    first = write_synthetic_clickstream(tmp_path / "a-synthetic.tsv.gz", seed=3, articles=200)
    second = write_synthetic_clickstream(tmp_path / "b-synthetic.tsv.gz", seed=3, articles=200)
    other = write_synthetic_clickstream(tmp_path / "c-synthetic.tsv.gz", seed=4, articles=200)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.read_bytes() != other.path.read_bytes()


def test_it_is_a_well_formed_dump_with_every_row_kind(tmp_path: Path) -> None:
    path = write_synthetic_clickstream(tmp_path / "clickstream-synthetic.tsv", seed=1, articles=300).path
    report = ParseReport(path)
    rows = list(iter_rows(path, report))
    assert report.malformed == 0 and len(rows) == report.rows > 300
    assert {row.prev for row in rows} >= set(REFERRER_CLASSES)
    assert {row.type for row in rows} == {"link", "external", "other"}
    assert min(row.n for row in rows) >= MIN_PUBLISHED_N
    assert any(not row.curr.isascii() for row in rows)


def test_a_name_without_synthetic_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProducerError, match="must contain 'synthetic'"):
        write_synthetic_clickstream(tmp_path / "clickstream-enwiki-2024-01.tsv.gz")


def test_the_command_labels_its_output(tmp_path: Path, run_producer) -> None:
    out = tmp_path / "clickstream-synthetic-seed9.tsv.gz"
    result = run_producer("synthetic", "--out", str(out), "--seed", "9", "--articles", "100")
    assert result.returncode == 0, result.stderr
    assert "wrote SYNTHETIC clickstream" in result.stderr.decode()
    assert (
        out.read_bytes() == write_synthetic_clickstream(tmp_path / "again-synthetic.tsv.gz", 9, 100).path.read_bytes()
    )
