from __future__ import annotations

import socket
from pathlib import Path

import pytest

from stack.preflight import PrerequisiteError, check_java, check_ports_free, free_port, java_major_version


def test_taken_port_is_reported_with_the_variable_to_change() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PrerequisiteError) as error:
            check_ports_free({"kafka_port": port, "postgres_port": free_port()})
    message = str(error.value)
    assert f"kafka_port {port}" in message
    assert "KAFKA_PORT=<port>" in message
    assert "postgres" not in message


def _fake_java(directory: Path, version_line: str) -> None:
    java = directory / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)


@pytest.mark.parametrize(
    ("line", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
    ],
)
def test_java_version_is_read_from_java_dash_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, major: int
) -> None:
    _fake_java(tmp_path, line)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert java_major_version() == major


def test_old_java_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_java(tmp_path, 'java version "1.8.0_392"')
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError, match=r"Java 17\+ is required, found Java 8"):
        check_java()


def test_missing_java_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError, match="not on PATH"):
        check_java()
