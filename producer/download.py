"""Downloading a monthly clickstream dump from the Wikimedia dumps layout, resumably, with its checksum.

The layout is {base}/other/clickstream/{YYYY-MM}/clickstream-{wiki}-{YYYY-MM}.tsv.gz. The transfer
(a .part file, resumed with HTTP Range requests) is wikistream/download.py's. The checksum is
looked up in the checksum files this directory may publish (lines "HASH  filename", as written by
md5sum/sha1sum); a mismatch deletes the download and fails. Where no checksum file is published
the download is reported as unverified: the gzip CRC still catches a corrupted file when the model
is built.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import requests

from producer.errors import ProducerError
from wikistream import download

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://dumps.wikimedia.org"
# Checksum files looked for in the month's directory, strongest hash first.
CHECKSUM_FILES: tuple[tuple[str, str], ...] = (
    ("sha256sums.txt", "sha256"),
    ("sha1sums.txt", "sha1"),
    ("md5sums.txt", "md5"),
)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_WIKI = re.compile(r"^[a-z0-9_]+$")


class DownloadError(ProducerError):
    """The dump is not published, could not be fetched, or failed its checksum."""


@dataclass(frozen=True)
class DumpFile:
    wiki: str
    month: str
    base_url: str = DEFAULT_BASE_URL

    def __post_init__(self) -> None:
        if not _MONTH.match(self.month):
            raise DownloadError(f"month must look like 2024-01, got {self.month!r}")
        if not _WIKI.match(self.wiki):
            raise DownloadError(f"wiki must look like enwiki, got {self.wiki!r}")

    @property
    def name(self) -> str:
        return f"clickstream-{self.wiki}-{self.month}.tsv.gz"

    @property
    def directory_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/other/clickstream/{self.month}/"

    @property
    def url(self) -> str:
        return self.directory_url + self.name


def parse_checksum_file(text: str, file_name: str) -> str | None:
    """The hash listed for file_name in md5sum/sha1sum output ("HASH  name" or "HASH *name")."""
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and parts[1].lstrip("*") == file_name and re.fullmatch(r"[0-9a-fA-F]+", parts[0]):
            return parts[0].lower()
    return None


class Downloader(download.ResumableDownloader):
    def published_checksum(self, dump: DumpFile) -> download.Checksum | None:
        for file_name, algorithm in CHECKSUM_FILES:
            url = dump.directory_url + file_name
            try:
                response = self.http.get(url, timeout=self.timeout_s)
            except requests.RequestException as error:
                raise DownloadError(f"cannot reach {url}: {error}") from error
            if response.status_code == 404:
                continue
            if response.status_code != 200:
                raise DownloadError(f"fetching {url} failed: HTTP {response.status_code}")
            listed = parse_checksum_file(response.text, dump.name)
            if listed is not None:
                return download.Checksum(algorithm, listed, url)
            log.warning("%s does not list %s", url, dump.name)
        return None

    def download(self, dump: DumpFile, out_dir: Path) -> Path:
        """The verified dump in out_dir, downloaded (or resumed) unless already there and intact."""
        checksum = self.published_checksum(dump)
        try:
            target = self.fetch(dump.url, out_dir / dump.name, checksum)
        except download.DownloadError as error:
            raise DownloadError(str(error)) from error
        if checksum is None:
            log.warning("no checksum file published in %s: %s is NOT verified", dump.directory_url, dump.name)
        return target
