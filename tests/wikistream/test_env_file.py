"""The one reader and writer of KEY=value files (stack.env, secrets.env, metabase-admin.env)."""

from __future__ import annotations

import stat
from pathlib import Path

from wikistream.env_file import read_env_file, write_private_env_file
from wikistream.settings import STACK_ENV, stack_settings


def test_comments_and_blank_lines_are_skipped_and_a_later_line_wins(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text("# A=commented\n\nA=1\nB = two words \n#B=3\nA=4\nC=x=y\n")
    assert read_env_file(path) == {"A": "4", "B": "two words", "C": "x=y"}
    assert read_env_file(tmp_path / "missing.env") == {}


def test_it_reads_stack_env_as_pydantic_settings_do() -> None:
    values = read_env_file(STACK_ENV)
    settings = stack_settings()
    assert values["KAFKA_TOPIC"] == settings.kafka_topic
    assert values["FLINK_VERSION"] == settings.flink_version


def test_the_writer_makes_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secrets.env"
    write_private_env_file(path, {"K": "v w", "L": "a=b"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_env_file(path) == {"K": "v w", "L": "a=b"}
