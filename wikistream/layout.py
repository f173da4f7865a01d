"""Where the embedded stack keeps each file: everything lives under one state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wikistream.paths import REPO_ROOT


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def flink_dir(self) -> Path:
        return self.root / "flink"

    @property
    def checkpoints_dir(self) -> Path:
        return self.flink_dir / "checkpoints"

    @property
    def savepoints_dir(self) -> Path:
        return self.flink_dir / "savepoints"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def tools_dir(self) -> Path:
        return self.root / "tools"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.env"


JARS_DIR = REPO_ROOT / "jars"
# The job's own JVM functions, compiled by the jars/ build (a Maven module).
FUNCTIONS_DIR = REPO_ROOT / "flink_job" / "functions"
FLINK_JARS_DIR = JARS_DIR / "target" / "flink"
KAFKA_JARS_DIR = JARS_DIR / "target" / "kafka"
