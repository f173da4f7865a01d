"""A download site for tests: serves a directory, honours "Range: bytes=N-", can drop a response.

Used for the clickstream dumps (laid out like dumps.wikimedia.org) and the Metabase jar (laid out
like downloads.metabase.com). Make a subclass per test site, so each has its own class state.
"""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar


class RangeSite(BaseHTTPRequestHandler):
    """root is served as the site; for files ending in `watched`, ranges records each request's Range
    header (None: the whole file) and cut_first_response_at cuts the first whole-file answer short."""

    root: ClassVar[Path]
    watched: ClassVar[str]
    ranges: ClassVar[list[str | None]]
    cut_first_response_at: ClassVar[int | None] = None

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        requested = self.headers.get("Range")
        watched = path.name.endswith(self.watched)
        if watched:
            type(self).ranges.append(requested)
        match = re.fullmatch(r"bytes=(\d+)-", requested) if requested else None
        start = int(match.group(1)) if match else 0
        if start >= len(data) and requested:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start:]
        self.send_response(206 if requested else 200)
        if requested:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).cut_first_response_at
        if cut is not None and not requested and watched:
            # A dropped connection: fewer bytes than Content-Length announced.
            type(self).cut_first_response_at = None
            self.wfile.write(body[:cut])
            self.close_connection = True
            return
        self.wfile.write(body)
