"""Versions typed in config/stack.env must be the ones every other file actually uses."""

from __future__ import annotations

import re
import subprocess

from wikistream.settings import REPO_ROOT, stack_settings


def test_apache_flink_pin_matches_the_flink_version() -> None:
    version = stack_settings().flink_version
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    lock = (REPO_ROOT / "requirements.lock").read_text()
    assert re.search(rf'"apache-flink=={re.escape(version)}"', pyproject)
    assert re.search(rf"^apache-flink=={re.escape(version)} ", lock, re.MULTILINE)


def test_connector_lines_are_built_for_the_flink_minor() -> None:
    settings = stack_settings()
    minor = ".".join(settings.flink_version.split(".")[:2])
    for connector in (settings.flink_kafka_connector_version, settings.flink_jdbc_connector_version):
        assert connector.endswith(f"-{minor}"), f"{connector} is not built for Flink {minor}"


def test_makefile_reads_the_same_file() -> None:
    printed = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "-", "show"],
        input="include config/stack.env\nshow:\n\t@echo $(KAFKA_TOPIC) $(FLINK_REST_PORT)\n",
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    ).stdout.split()
    settings = stack_settings()
    assert printed == [settings.kafka_topic, str(settings.flink_rest_port)]
