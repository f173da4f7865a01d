"""An admin session on Metabase: first-run setup with generated credentials, or a login.

The credentials live in `<state dir>/metabase-admin.env` (mode 0600, git-ignored with the state
directory); METABASE_ADMIN_EMAIL and METABASE_ADMIN_PASSWORD in the environment win over the file.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from dashboards.metabase_client import METABASE_API_VERSION, MetabaseClient
from wikistream.env_file import read_env_file, write_private_env_file

ADMIN_FILE_NAME = "metabase-admin.env"
EMAIL_KEY = "METABASE_ADMIN_EMAIL"
PASSWORD_KEY = "METABASE_ADMIN_PASSWORD"
DEFAULT_ADMIN_EMAIL = "admin@wikistream.local"


class AdminCredentialsMissing(RuntimeError):
    """Metabase is already set up, and we do not know its admin."""


@dataclass(frozen=True)
class AdminCredentials:
    email: str
    password: str


@dataclass(frozen=True)
class AdminSession:
    first_run: bool
    # Metabase's version tag as it reports it, e.g. "v0.56.13".
    version: str | None

    @property
    def version_matches(self) -> bool:
        # OSS tags are v0.N.x, Enterprise v1.N.x: the API is the same for both.
        return self.version is not None and self.version.replace("v1.", "v0.", 1).startswith(METABASE_API_VERSION + ".")


def open_admin_session(client: MetabaseClient, credentials_file: Path, site_name: str) -> AdminSession:
    properties = client.session_properties()
    version = (properties.get("version") or {}).get("tag")
    known = _known_credentials(credentials_file)
    if not properties.get("has-user-setup"):
        admin = known or _create_credentials_file(credentials_file)
        client.setup(properties["setup-token"], admin.email, admin.password, "Wikistream", "Admin", site_name)
        return AdminSession(first_run=True, version=version)
    if known is None:
        raise AdminCredentialsMissing(
            f"Metabase is already set up but there are no admin credentials in {credentials_file}: "
            f"set {EMAIL_KEY} and {PASSWORD_KEY}, or restore the file."
        )
    client.login(known.email, known.password)
    return AdminSession(first_run=False, version=version)


def _known_credentials(path: Path) -> AdminCredentials | None:
    stored = read_env_file(path)
    email = os.environ.get(EMAIL_KEY) or stored.get(EMAIL_KEY)
    password = os.environ.get(PASSWORD_KEY) or stored.get(PASSWORD_KEY)
    return AdminCredentials(email, password) if email and password else None


def _create_credentials_file(path: Path) -> AdminCredentials:
    # Written before the setup call, so a successful setup can never leave us without the password.
    admin = AdminCredentials(
        os.environ.get(EMAIL_KEY) or DEFAULT_ADMIN_EMAIL, os.environ.get(PASSWORD_KEY) or generate_password()
    )
    write_private_env_file(path, {EMAIL_KEY: admin.email, PASSWORD_KEY: admin.password})
    return admin


def generate_password() -> str:
    """A random password that passes even Metabase's "strong" complexity rule (8+ characters with at
    least 2 lower-case, 2 upper-case, 1 digit and 1 special character)."""
    while True:
        password = secrets.token_urlsafe(24)
        if (
            sum(c.islower() for c in password) >= 2
            and sum(c.isupper() for c in password) >= 2
            and any(c.isdigit() for c in password)
            and any(c in string.punctuation for c in password)
        ):
            return password
