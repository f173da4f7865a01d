"""`python -m stack.supervisord -c FILE`: supervisord whose standard output and error never raise.

supervisor reports a log line it could not write (a full disk) by printing the traceback to
standard error; when that write fails too, the exception ends supervisord, and with it every
restart of every service (measured: the whole stack unsupervised after a disk filled for 90 s).
Here a write to either stream that fails is dropped instead, as Python's own logging does, so
supervisord keeps its children running and restarting, and logs again once there is room.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import TextIO

from supervisor import supervisord


class BestEffort(io.TextIOBase):
    """A text stream that forwards to another and drops what cannot be written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError):
            self.stream.write(text)
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()


def main() -> None:
    sys.stdout = BestEffort(sys.stdout)
    sys.stderr = BestEffort(sys.stderr)
    supervisord.main()


if __name__ == "__main__":
    main()
