"""Files replaced whole or not at all, for every file a restart reads back (secrets, pid files, the
job keeper's log): a crash or a kill -9 mid-write leaves the old file, never an empty or half one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """text as path's whole content, only its owner able to read it (0600, as mkstemp creates it).

    A temporary file beside it, flushed to disk, then renamed over it; the directory is flushed too,
    so the rename survives a power cut.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
