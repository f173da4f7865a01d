"""Where the PostgreSQL image's bootstrap (python -m wikistream.schema) takes the role passwords from."""

from __future__ import annotations

from pathlib import Path

import pytest

from wikistream.postgres import ADMIN_USER, PASSWORD_VARIABLES, READER_USER
from wikistream.schema import passwords_from_environment


def test_a_variable_wins_over_its_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for role, variable in PASSWORD_VARIABLES.items():
        (tmp_path / variable).write_text(f"file-{role}\n")
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(PASSWORD_VARIABLES[READER_USER], "from-env")
    passwords = passwords_from_environment(tmp_path)
    assert passwords[READER_USER] == "from-env"
    assert passwords[ADMIN_USER] == f"file-{ADMIN_USER}"
    assert set(passwords) == set(PASSWORD_VARIABLES)


def test_a_missing_password_names_its_variable_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in PASSWORD_VARIABLES.values():
        monkeypatch.setenv(variable, "x")
    monkeypatch.delenv(PASSWORD_VARIABLES[ADMIN_USER])
    with pytest.raises(SystemExit, match=f"POSTGRES_ADMIN_PASSWORD is neither in the environment nor in {tmp_path}"):
        passwords_from_environment(tmp_path)
    with pytest.raises(SystemExit, match="WIKISTREAM_SECRETS_DIR is not set"):
        passwords_from_environment(None)
