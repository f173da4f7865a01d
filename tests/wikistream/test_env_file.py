"""The one reader and writer of KEY=value files (stack.env, secrets.env, metabase-admin.env)."""

from __future__ import annotations

import random
import stat
import subprocess
import sys
import time
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


_WRITER = """
import sys
from pathlib import Path
from wikistream.env_file import write_private_env_file
path, generation = Path(sys.argv[1]), 0
while True:
    generation += 1
    write_private_env_file(path, {f"K{i}": f"{generation}-" + "x" * 100_000 for i in range(20)})
    if generation == 1:
        print("writing", flush=True)
"""


def test_a_writer_killed_at_any_moment_leaves_the_old_or_the_new_file_whole(tmp_path: Path) -> None:
    """kill -9 of a process rewriting the file over and over, 30 times at random moments: the file
    always holds one generation of every key, whole; never an empty or half-written file."""
    path = tmp_path / "secrets.env"
    write_private_env_file(path, {f"K{i}": "0-" + "x" * 100_000 for i in range(20)})
    rng = random.Random(7)
    for _ in range(30):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
            time.sleep(rng.random() * 0.05)  # the moment of the kill, somewhere in the next writes
        finally:
            writer.kill()
            writer.wait()
        values = read_env_file(path)
        generations = {value.split("-", 1)[0] for value in values.values()}
        assert sorted(values) == sorted(f"K{i}" for i in range(20)), f"keys lost: {sorted(values)}"
        assert len(generations) == 1 and all(len(v.split("-", 1)[1]) == 100_000 for v in values.values())
