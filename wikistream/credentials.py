"""Database credentials: generated once per state directory, never typed into code.

An environment variable of the same name wins over the generated value, so a user can supply
their own. The file is created with mode 0600.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from wikistream.env_file import read_env_file, write_private_env_file
from wikistream.postgres import READER_USER, SEEDER_USER, WRITER_USER

_KEYS = ("POSTGRES_ADMIN_PASSWORD", "POSTGRES_WRITER_PASSWORD", "POSTGRES_READER_PASSWORD", "POSTGRES_SEEDER_PASSWORD")


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    writer_password: str
    reader_password: str
    seeder_password: str

    def login_roles(self) -> dict[str, str]:
        """The password of each component's role (not the admin's), by role name."""
        return {SEEDER_USER: self.seeder_password, WRITER_USER: self.writer_password, READER_USER: self.reader_password}


def stored_password(path: Path, key: str) -> str | None:
    """One password as the stack uses it (environment first, then the file), never generated.

    For readers of a stack started elsewhere: a password made up here would not match PostgreSQL's.
    """
    return os.environ.get(key) or read_env_file(path).get(key) or None


def load_or_create_secrets(path: Path, keys: tuple[str, ...]) -> dict[str, str]:
    """The secrets named by keys: an environment variable, else the file, else generated into the file.

    Keys of the file that are not asked for are kept, so each component can keep its own there.
    """
    stored = read_env_file(path)
    missing = [key for key in keys if key not in stored]
    if missing:
        for key in missing:
            stored[key] = secrets.token_urlsafe(24)
        write_private_env_file(path, stored)
    return {key: os.environ.get(key) or stored[key] for key in keys}


def load_or_create(path: Path) -> Credentials:
    values = load_or_create_secrets(path, _KEYS)
    return Credentials(*(values[key] for key in _KEYS))
