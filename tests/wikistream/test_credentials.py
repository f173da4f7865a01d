from __future__ import annotations

import stat
from pathlib import Path

import pytest

from wikistream.credentials import load_or_create


def test_passwords_are_generated_once_private_and_distinct(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    first = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len({first.admin_password, first.writer_password, first.reader_password}) == 3
    assert load_or_create(path) == first


def test_environment_overrides_the_generated_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_READER_PASSWORD", "chosen-by-user")
    creds = load_or_create(tmp_path / "secrets.env")
    assert creds.reader_password == "chosen-by-user"
    assert "chosen-by-user" not in (tmp_path / "secrets.env").read_text()
