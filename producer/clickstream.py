"""Reading clickstream files in the Wikimedia dump format.

Each line is `prev<TAB>curr<TAB>type<TAB>n`, with no header: prev is an article title or one of the
other-* referrers, type is link, external or other, n is a click count. Files may be gzipped or plain
and are read as bytes, so that only "\\n" ends a line (titles may hold other Unicode line breaks).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from producer.errors import ProducerError
from wikistream.events import LINK_TYPES

GZIP_MAGIC = b"\x1f\x8b"
# How many malformed lines are reported by number; the rest are only counted.
REPORTED_MALFORMED_LINES = 5
PROGRESS_EVERY_LINES = 65536
_LINK_TYPES = frozenset(LINK_TYPES)


class ClickstreamError(ProducerError):
    """The file cannot be read, or holds no valid row."""


class ClickstreamRow(NamedTuple):
    prev: str
    curr: str
    type: str
    n: int


@dataclass
class ParseReport:
    """What a read found: valid rows, and malformed lines counted with the first few line numbers."""

    path: Path
    rows: int = 0
    malformed: int = 0
    first_malformed: list[tuple[int, str]] = field(default_factory=list)

    def note_malformed(self, line_number: int, reason: str) -> None:
        self.malformed += 1
        if len(self.first_malformed) < REPORTED_MALFORMED_LINES:
            self.first_malformed.append((line_number, reason))

    def summary(self) -> str:
        text = f"{self.path.name}: {self.rows} rows"
        if self.malformed:
            lines = ", ".join(f"line {number} ({reason})" for number, reason in self.first_malformed)
            more = ", ..." if self.malformed > len(self.first_malformed) else ""
            text += f", {self.malformed} malformed lines skipped: {lines}{more}"
        return text


def _parse_line(line: bytes) -> ClickstreamRow | str:
    """The row of one line, or why it is malformed."""
    try:
        text = line.decode()
    except UnicodeDecodeError:
        return "not UTF-8"
    parts = text.rstrip("\n").split("\t")
    if len(parts) != 4:
        return f"{len(parts)} columns, expected 4"
    prev, curr, link_type, count = parts
    # int() alone would also accept " 12", "1_000", "+5" and non-ASCII digits.
    if not (count.isascii() and count.isdigit()):
        return "n is not a non-negative integer"
    n = int(count)
    if n == 0:
        return "n is 0"
    if not prev or not curr:
        return "empty title"
    if link_type not in _LINK_TYPES:
        return f"unknown type {link_type[:20]!r}"
    return ClickstreamRow(prev, curr, link_type, n)


def iter_rows(
    path: Path, report: ParseReport, on_progress: Callable[[int], None] | None = None
) -> Iterator[ClickstreamRow]:
    """The valid rows of a file, noting malformed lines in report; raises ClickstreamError if unreadable or empty.

    on_progress, if given, is called now and then with the number of bytes read from disk so far.
    """
    try:
        raw = path.open("rb")
    except OSError as error:
        raise ClickstreamError(f"cannot read clickstream file {path}: {error.strerror or error}") from error
    with raw:
        stream: BinaryIO = raw
        if raw.read(2) == GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]  # a GzipFile reads as a BinaryIO
        raw.seek(0)
        try:
            for line_number, line in enumerate(stream, 1):
                parsed = _parse_line(line)
                if isinstance(parsed, str):
                    report.note_malformed(line_number, parsed)
                else:
                    report.rows += 1
                    yield parsed
                if on_progress is not None and line_number % PROGRESS_EVERY_LINES == 0:
                    on_progress(raw.tell())
        except (OSError, EOFError, zlib.error) as error:
            # gzip's CRC and length check catch a truncated or corrupted download here.
            raise ClickstreamError(f"cannot read clickstream file {path}: {error}") from error
    if report.rows == 0:
        detail = report.summary() if report.malformed else "the file is empty"
        raise ClickstreamError(f"no valid clickstream rows in {path}: {detail}")
