"""KEY=value files: config/stack.env's format, also used for the generated secrets files.

One reader and one writer for every such file the Python side touches (pydantic-settings reads
config/stack.env itself). Blank lines and # comments are skipped; values are taken as written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """The file's KEY=value pairs ({} when there is no file); a later line wins over an earlier one."""
    if not path.exists():
        return {}
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def write_private_env_file(path: Path, values: Mapping[str, str]) -> None:
    """values as KEY=value lines in a file only its owner can read (created 0600, never widened).

    Written whole or not at all: a temporary file beside it, flushed to disk, then renamed over it.
    Truncating in place would leave an empty file to a crash at that moment, the next start would
    generate new passwords, and the stack would be locked out of its own data.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in values.items())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
