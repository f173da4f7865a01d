"""Resumable, verified downloads: the producer's clickstream dumps and the Metabase jar.

Bytes go to a .part file first; an interrupted transfer resumes from its size with an HTTP Range
request (retried with back-off), and the file takes its final name only after its checksum
matched. A mismatch deletes the download and fails.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from tqdm import tqdm

log = logging.getLogger(__name__)

# Bytes are written a chunk at a time: a dropped connection loses at most the chunk under way.
_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """The file is not published, could not be fetched, or failed its checksum."""


class _Interrupted(Exception):
    """A transfer that ended early or failed transiently (retried, resuming from the .part file)."""


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    hexdigest: str
    # Where the expected value comes from, for the error message.
    published_in: str


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ResumableDownloader:
    def __init__(self, timeout_s: float = 30.0, attempts: int = 5, backoff_s: float = 1.0, progress: bool = True):
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.progress = progress
        self.http = requests.Session()

    def fetch(self, url: str, target: Path, checksum: Checksum | None) -> Path:
        """target, downloaded (or resumed) from url unless already there and intact; verified when checksum is given."""
        if target.exists():
            if checksum is None or file_digest(target, checksum.algorithm) == checksum.hexdigest:
                log.info("%s is already downloaded%s", target, "" if checksum is None else " and verified")
                return target
            log.warning("%s does not match %s: downloading it again", target, checksum.published_in)
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
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
            retrying(self._transfer, url, partial)
        except _Interrupted as error:
            raise DownloadError(f"downloading {url} failed after {self.attempts} attempts: {error}") from error
        if checksum is not None:
            actual = file_digest(partial, checksum.algorithm)
            if actual != checksum.hexdigest:
                partial.unlink()
                raise DownloadError(
                    f"{checksum.algorithm} mismatch for {target.name}: {checksum.published_in} says "
                    f"{checksum.hexdigest}, the download has {actual} (deleted; run again to retry)"
                )
            log.info("%s verified against %s", target.name, checksum.published_in)
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
