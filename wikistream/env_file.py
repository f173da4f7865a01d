"""KEY=value files: config/stack.env's format, also used for the generated secrets files.

One reader and one writer for every such file the Python side touches (pydantic-settings reads
config/stack.env itself). Blank lines and # comments are skipped; values are taken as written.
"""

from __future__ import annotations

import os
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
    """values as KEY=value lines in a file only its owner can read (created 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{key}={value}\n" for key, value in values.items())
