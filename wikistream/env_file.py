"""KEY=value files: config/stack.env's format, also used for the generated secrets files.

One reader and one writer for every such file the Python side touches (pydantic-settings reads
config/stack.env itself). Blank lines and # comments are skipped; values are taken as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from wikistream.atomic_file import write_atomically


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
    """values as KEY=value lines in a file only its owner can read (0600), written whole or not at all.

    Truncating in place would leave an empty file to a crash at that moment, the next start would
    generate new passwords, and the stack would be locked out of its own data.
    """
    write_atomically(path, "".join(f"{key}={value}\n" for key, value in values.items()))
