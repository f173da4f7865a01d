"""Downloading a monthly clickstream dump from the Wikimedia dumps layout, resumably, with its checksum.

The layout is {base}/other/clickstream/{YYYY-MM}/clickstream-{wiki}-{YYYY-MM}.tsv.gz. Bytes go to a
.part file first; an interrupted download resumes from its size with an HTTP Range request. The
checksum is looked up in the checksum files this directory may publish (lines "HASH  filename",
as written by md5sum/sha1sum); a mismatch deletes the download and fails. Where no checksum file is
published the download is reported as unverified: the gzip CRC still catches a corrupted file
when the model is built.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from tqdm import tqdm

from producer.errors import ProducerError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://dumps.wikimedia.org"
# Checksum files looked for in the month's directory, strongest hash first.
CHECKSUM_FILES: tuple[tuple[str, str], ...] = (
    ("sha256sums.txt", "sha256"),
    ("sha1sums.txt", "sha1"),
    ("md5sums.txt", "md5"),
)
# Bytes are written a chunk at a time: a dropped connection loses at most the chunk under way.
_CHUNK = 1 << 16
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_WIKI = re.compile(r"^[a-z0-9_]+$")


class DownloadError(ProducerError):
    """The dump is not published, could not be fetched, or failed its checksum."""


class _Interrupted(Exception):
    """A transfer that ended early or failed transiently (retried, resuming from the .part file)."""


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


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    hexdigest: str
    published_in: str


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def parse_checksum_file(text: str, file_name: str) -> str | None:
    """The hash listed for file_name in md5sum/sha1sum output ("HASH  name" or "HASH *name")."""
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and parts[1].lstrip("*") == file_name and re.fullmatch(r"[0-9a-fA-F]+", parts[0]):
            return parts[0].lower()
    return None


class Downloader:
    def __init__(self, timeout_s: float = 30.0, attempts: int = 5, backoff_s: float = 1.0, progress: bool = True):
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.progress = progress
        self.http = requests.Session()

    def published_checksum(self, dump: DumpFile) -> Checksum | None:
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
                return Checksum(algorithm, listed, url)
            log.warning("%s does not list %s", url, dump.name)
        return None

    def download(self, dump: DumpFile, out_dir: Path) -> Path:
        """The verified dump in out_dir, downloaded (or resumed) unless already there and intact."""
        target = out_dir / dump.name
        checksum = self.published_checksum(dump)
        if target.exists():
            if checksum is None or _file_digest(target, checksum.algorithm) == checksum.hexdigest:
                log.info("%s is already downloaded%s", target, "" if checksum is None else " and verified")
                return target
            log.warning("%s does not match %s: downloading it again", target, checksum.published_in)
            target.unlink()
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=30),
            retry=retry_if_exception_type(_Interrupted),
            before_sleep=lambda state: log.warning(
                "download interrupted (%s); resuming", state.outcome.exception() if state.outcome else ""
            ),
            reraise=True,
        )
        try:
            retrying(self._transfer, dump.url, partial)
        except _Interrupted as error:
            raise DownloadError(f"downloading {dump.url} failed after {self.attempts} attempts: {error}") from error
        if checksum is None:
            log.warning("no checksum file published in %s: %s is NOT verified", dump.directory_url, dump.name)
        else:
            actual = _file_digest(partial, checksum.algorithm)
            if actual != checksum.hexdigest:
                partial.unlink()
                raise DownloadError(
                    f"{checksum.algorithm} mismatch for {dump.name}: {checksum.published_in} says "
                    f"{checksum.hexdigest}, the download has {actual} (deleted; run again to retry)"
                )
            log.info("%s verified against %s", dump.name, checksum.published_in)
        partial.replace(target)
        return target

    def _transfer(self, url: str, partial: Path) -> None:
        """Fetch url into partial, continuing from what partial already holds."""
        offset = partial.stat().st_size if partial.exists() else 0
        # identity: the bytes on disk must be the published file, for the checksum and for Range offsets.
        headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={offset}-"} if offset else {})
        try:
            with self.http.get(url, headers=headers, stream=True, timeout=self.timeout_s) as response:
                if response.status_code == 404:
                    raise DownloadError(f"{url} is not published (HTTP 404)")
                if response.status_code == 416:
                    # Nothing left to fetch: the .part file already holds the whole file.
                    return
                if response.status_code == 200:
                    offset = 0  # the server ignored the Range header: start over
                elif response.status_code != 206:
                    raise _Interrupted(f"HTTP {response.status_code}")
                length = response.headers.get("Content-Length")
                total = offset + int(length) if length is not None else None
                with (
                    partial.open("ab" if offset else "wb") as handle,
                    tqdm(
                        total=total,
                        initial=offset,
                        unit="B",
                        unit_scale=True,
                        desc=partial.name.removesuffix(".part"),
                        disable=not self.progress,
                    ) as bar,
                ):
                    for chunk in response.iter_content(_CHUNK):
                        handle.write(chunk)
                        bar.update(len(chunk))
        except requests.RequestException as error:
            raise _Interrupted(f"{type(error).__name__}: {error}") from error
        if total is not None and partial.stat().st_size < total:
            raise _Interrupted(f"connection closed at {partial.stat().st_size} of {total} bytes")
