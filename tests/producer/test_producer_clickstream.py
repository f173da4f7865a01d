"""Parsing the clickstream dump format: plain and gzipped, malformed lines, unreadable and empty files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producer.clickstream import REPORTED_MALFORMED_LINES, ClickstreamError, ClickstreamRow, ParseReport, iter_rows
from wikistream.events import LINK_TYPES, REFERRER_CLASSES

# Any Unicode title without a tab or a newline (those two are the format's separators).
titles = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\n"), min_size=1, max_size=40
)
rows = st.builds(
    ClickstreamRow,
    prev=st.one_of(st.sampled_from(sorted(REFERRER_CLASSES)), titles),
    curr=titles,
    type=st.sampled_from(LINK_TYPES),
    n=st.integers(min_value=1, max_value=10**12),
)
malformed_lines = st.sampled_from(
    [
        "only\ttwo",
        "a\tb\tlink\t12\textra",
        "a\tb\tlink\ttwelve",
        "a\tb\tlink\t-3",
        "a\tb\tlink\t1_000",
        "a\tb\tlink\t0",
        "\tb\tlink\t12",
        "a\t\tlink\t12",
        "a\tb\tclick\t12",
        "",
    ]
)


def _write(path: Path, lines: list[bytes]) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _encode(row: ClickstreamRow) -> bytes:
    return f"{row.prev}\t{row.curr}\t{row.type}\t{row.n}".encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expected=st.lists(rows, min_size=1, max_size=30), gzipped=st.booleans())
def test_valid_rows_read_back_unchanged(tmp_path: Path, expected: list[ClickstreamRow], gzipped: bool) -> None:
    path = _write(tmp_path / ("c.tsv.gz" if gzipped else "c.tsv"), [_encode(row) for row in expected])
    report = ParseReport(path)
    assert list(iter_rows(path, report)) == expected
    assert (report.rows, report.malformed) == (len(expected), 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(rows, min_size=1, max_size=20),
    bad=st.lists(st.tuples(st.integers(min_value=0, max_value=25), malformed_lines), min_size=1, max_size=10),
)
def test_malformed_lines_are_counted_skipped_and_located(
    tmp_path: Path, good: list[ClickstreamRow], bad: list[tuple[int, str]]
) -> None:
    lines = [_encode(row) for row in good]
    for position, line in bad:
        lines.insert(min(position, len(lines)), line.encode())
    bad_numbers = [number for number, line in enumerate(lines, 1) if line not in {_encode(row) for row in good}]
    path = _write(tmp_path / "c.tsv", lines)
    report = ParseReport(path)
    assert list(iter_rows(path, report)) == good
    assert report.malformed == len(bad)
    assert [number for number, _ in report.first_malformed] == bad_numbers[:REPORTED_MALFORMED_LINES]
    assert f"{len(bad)} malformed lines skipped: line {bad_numbers[0]} (" in report.summary()


def test_utf8_titles_and_other_unicode_line_breaks_stay_inside_a_title(write_tsv) -> None:
    # U+2028 and U+0085 are line breaks to str.splitlines, but not in the dump format.
    path = write_tsv([("other-search", "Zürich\u2028x", "external", 40), ("Zürich\u2028x", "東京\x85", "link", 12)])
    report = ParseReport(path)
    assert [row.curr for row in iter_rows(path, report)] == ["Zürich\u2028x", "東京\x85"]


def test_invalid_utf8_is_a_malformed_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.tsv", [b"other-search\tGood\texternal\t20", b"other-search\t\xff\xfe\texternal\t20"])
    report = ParseReport(path)
    assert len(list(iter_rows(path, report))) == 1
    assert report.first_malformed == [(2, "not UTF-8")]


@pytest.mark.parametrize("name", ["empty.tsv", "empty.tsv.gz"])
def test_an_empty_file_is_an_error(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, [])
    with pytest.raises(ClickstreamError, match="the file is empty"):
        list(iter_rows(path, ParseReport(path)))


def test_a_file_of_only_malformed_lines_is_an_error_naming_them(write_tsv) -> None:
    path = write_tsv(["a\tb\tlink", "x\ty\tlink\tmany"])
    with pytest.raises(ClickstreamError, match=r"no valid clickstream rows .* line 1 \(3 columns, expected 4\)"):
        list(iter_rows(path, ParseReport(path)))


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.tsv.gz"
    with pytest.raises(ClickstreamError, match=r"cannot read clickstream file .*absent\.tsv\.gz"):
        list(iter_rows(path, ParseReport(path)))


def test_a_truncated_gzip_is_an_error(tmp_path: Path) -> None:
    whole = gzip.compress(b"other-search\tA\texternal\t20\n" * 5000)
    path = tmp_path / "cut.tsv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ClickstreamError, match="cannot read clickstream file"):
        list(iter_rows(path, ParseReport(path)))


def test_build_model_command_reports_an_empty_file_in_one_line(tmp_path: Path, run_producer) -> None:
    empty = _write(tmp_path / "empty.tsv", [])
    result = run_producer("build-model", "--clickstream", str(empty), "--out", str(tmp_path / "m.npz"))
    assert result.returncode == 1
    assert (
        result.stderr.decode().strip().splitlines()[-1]
        == f"error: no valid clickstream rows in {empty}: the file is empty"
    )
    assert not (tmp_path / "m.npz").exists()


def test_build_model_command_reports_malformed_lines(write_tsv, tmp_path: Path, run_producer) -> None:
    path = write_tsv([("other-search", "A", "external", 50), "broken line", ("A", "B", "link", 20)])
    result = run_producer("build-model", "--clickstream", str(path), "--out", str(tmp_path / "m.npz"))
    assert result.returncode == 0, result.stderr
    assert "2 rows, 1 malformed lines skipped: line 2 (1 columns, expected 4)" in result.stderr.decode()
