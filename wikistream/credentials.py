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
from wikistream.postgres import ADMIN_USER, PASSWORD_VARIABLES, READER_USER, SEEDER_USER, WRITER_USER

# The order of Credentials' fields.
_KEYS = tuple(PASSWORD_VARIABLES[role] for role in (ADMIN_USER, WRITER_USER, READER_USER, SEEDER_USER))


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    writer_password: str
    reader_password: str
    seeder_password: str

    def login_roles(self) -> dict[str, str]:
        """The password of each component's role (not the admin's), by role name."""
        return {SEEDER_USER: self.seeder_password, WRITER_USER: self.writer_password, READER_USER: self.reader_password}

    def role_passwords(self) -> dict[str, str]:
        """Every role's password, the admin's too, by role name: what the schema bootstrap sets."""
        return {ADMIN_USER: self.admin_password, **self.login_roles()}


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
