"""Downloading a dump from a local server laid out like dumps.wikimedia.org, with HTTP Range support."""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from pathlib import Path
from typing import ClassVar

import pytest

from producer.download import Downloader, DownloadError, DumpFile, parse_checksum_file
from producer.synthetic import write_synthetic_clickstream
from tests.range_site import RangeSite

MONTH = "2024-01"
NAME = f"clickstream-dewiki-{MONTH}.tsv.gz"


class DumpsSite(RangeSite):
    watched = ".tsv.gz"
    ranges: ClassVar[list[str | None]] = []


@pytest.fixture
def site(tmp_path: Path, serve) -> tuple[str, Path, bytes]:
    """(base URL, month directory, dump bytes): a small gzipped dump published under other/clickstream/."""
    month_dir = tmp_path / "site" / "other" / "clickstream" / MONTH
    month_dir.mkdir(parents=True)
    source = write_synthetic_clickstream(tmp_path / "source-synthetic.tsv.gz", seed=2, articles=1500).path
    data = source.read_bytes()
    (month_dir / NAME).write_bytes(data)
    DumpsSite.root = tmp_path / "site"
    DumpsSite.ranges = []
    DumpsSite.cut_first_response_at = None
    return serve(DumpsSite), month_dir, data


def publish(month_dir: Path, file_name: str, algorithm: str, digest_of: bytes) -> None:
    digest = hashlib.new(algorithm, digest_of).hexdigest()
    (month_dir / file_name).write_text(f"0123abcd  clickstream-enwiki-{MONTH}.tsv.gz\n{digest}  {NAME}\n")


def downloader() -> Downloader:
    return Downloader(timeout_s=5, attempts=3, backoff_s=0.01, progress=False)


@pytest.mark.parametrize(("file_name", "algorithm"), [("md5sums.txt", "md5"), ("sha1sums.txt", "sha1")])
def test_a_dump_is_downloaded_and_verified(site, tmp_path: Path, file_name: str, algorithm: str, caplog) -> None:
    base, month_dir, data = site
    publish(month_dir, file_name, algorithm, data)
    with caplog.at_level(logging.INFO):
        path = downloader().download(DumpFile("dewiki", MONTH, base), tmp_path / "out")
    assert path == tmp_path / "out" / NAME and path.read_bytes() == data
    assert f"verified against {base}/other/clickstream/{MONTH}/{file_name}" in caplog.text
    assert not path.with_name(NAME + ".part").exists()


def test_a_partial_download_is_resumed_with_a_range_request(site, tmp_path: Path) -> None:
    base, month_dir, data = site
    publish(month_dir, "md5sums.txt", "md5", data)
    out = tmp_path / "out"
    out.mkdir()
    (out / (NAME + ".part")).write_bytes(data[:1000])
    path = downloader().download(DumpFile("dewiki", MONTH, base), out)
    assert path.read_bytes() == data
    assert DumpsSite.ranges == ["bytes=1000-"]


def test_a_dropped_connection_is_resumed_where_it_stopped(site, tmp_path: Path) -> None:
    base, month_dir, data = site
    publish(month_dir, "sha1sums.txt", "sha1", data)
    cut = len(data) * 3 // 4
    DumpsSite.cut_first_response_at = cut
    path = downloader().download(DumpFile("dewiki", MONTH, base), tmp_path / "out")
    assert path.read_bytes() == data
    first, resumed = DumpsSite.ranges
    # Resumed from the last chunk written before the drop, not from the start.
    assert first is None and 0 < int(resumed.removeprefix("bytes=").removesuffix("-")) <= cut


def test_a_checksum_mismatch_fails_and_discards_the_download(site, tmp_path: Path) -> None:
    base, month_dir, _ = site
    publish(month_dir, "md5sums.txt", "md5", b"something else")
    with pytest.raises(DownloadError, match=f"md5 mismatch for {NAME}"):
        downloader().download(DumpFile("dewiki", MONTH, base), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_corrupted_partial_file_is_caught_by_the_checksum(site, tmp_path: Path) -> None:
    base, month_dir, data = site
    publish(month_dir, "md5sums.txt", "md5", data)
    out = tmp_path / "out"
    out.mkdir()
    (out / (NAME + ".part")).write_bytes(b"\x00" * 1000)  # same length as a real prefix, wrong bytes
    with pytest.raises(DownloadError, match="mismatch"):
        downloader().download(DumpFile("dewiki", MONTH, base), out)


def test_an_unpublished_month_is_an_error(site, tmp_path: Path) -> None:
    base, _, _ = site
    with pytest.raises(DownloadError, match=r"is not published \(HTTP 404\)"):
        downloader().download(DumpFile("dewiki", "2019-02", base), tmp_path / "out")


def test_without_a_checksum_file_the_download_is_reported_unverified(site, tmp_path: Path, caplog) -> None:
    base, _, data = site
    with caplog.at_level(logging.WARNING):
        path = downloader().download(DumpFile("dewiki", MONTH, base), tmp_path / "out")
    assert path.read_bytes() == data
    assert "is NOT verified" in caplog.text


def test_bad_month_or_wiki_is_refused() -> None:
    with pytest.raises(DownloadError, match="month"):
        DumpFile("enwiki", "2024-13")
    with pytest.raises(DownloadError, match="wiki"):
        DumpFile("../etc", "2024-01")


def test_checksum_files_in_both_md5sum_styles_are_understood() -> None:
    text = "aa11  other.tsv.gz\nBB22 *wanted.tsv.gz\n"
    assert parse_checksum_file(text, "wanted.tsv.gz") == "bb22"
    assert parse_checksum_file(text, "missing.tsv.gz") is None


def test_the_download_command_fetches_verifies_and_builds_the_model(site, tmp_path: Path, run_producer) -> None:
    base, month_dir, data = site
    publish(month_dir, "md5sums.txt", "md5", data)
    out = tmp_path / "out"
    args = ("download", "--wiki", "dewiki", "--month", MONTH, "--base-url", base, "--out", str(out))
    result = run_producer(*args)
    assert result.returncode == 0, result.stderr
    assert (out / NAME).read_bytes() == data
    assert (out / f"clickstream-dewiki-{MONTH}.model.npz").exists()
    assert gzip.decompress(data).count(b"\n") == int(re.search(rb"(\d+) rows", result.stderr).group(1))
    # A second run finds the verified file and does not fetch it again.
    DumpsSite.ranges = []
    assert run_producer(*args).returncode == 0
    assert DumpsSite.ranges == []


def test_the_download_command_fails_in_one_line_on_a_mismatch(site, tmp_path: Path, run_producer) -> None:
    base, month_dir, _ = site
    publish(month_dir, "sha1sums.txt", "sha1", b"tampered")
    result = run_producer("download", "--wiki", "dewiki", "--month", MONTH, "--base-url", base, "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines()[-1].startswith(f"error: sha1 mismatch for {NAME}")
