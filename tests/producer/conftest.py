"""Fixtures of the producer tests: small clickstream files, local HTTP servers, a synthetic model.

postgres_dsn (an empty database with sql/*.sql applied) comes from tests/conftest.py.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from psycopg2.extensions import parse_dsn

from producer.datasets import model_path_for
from producer.model import ClickstreamModel, build_model, load_model
from producer.synthetic import default_dataset_path, write_synthetic_clickstream

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def write_tsv(tmp_path: Path) -> Callable[..., Path]:
    """Writes rows (tuples, or raw lines as str) to a clickstream file; gzipped if the name ends in .gz."""

    def write(rows: list[tuple[str, str, str, int] | str], name: str = "clickstream-test.tsv") -> Path:
        lines = [row if isinstance(row, str) else "\t".join(map(str, row)) for row in rows]
        data = "".join(line + "\n" for line in lines).encode()
        path = tmp_path / name
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        return path

    return write


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PRODUCER_DATA_DIR holding the default synthetic dataset and its model, made once."""
    directory = tmp_path_factory.mktemp("producer-data")
    dataset = default_dataset_path(directory)
    write_synthetic_clickstream(dataset)
    build_model(dataset, model_path_for(dataset, directory), progress=False)
    return directory


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> ClickstreamModel:
    directory = tmp_path_factory.mktemp("small-model")
    dataset = write_synthetic_clickstream(directory / "clickstream-synthetic-small.tsv.gz", seed=7, articles=300)
    model_path = directory / "small.model.npz"
    build_model(dataset.path, model_path, progress=False)
    return load_model(model_path)


@pytest.fixture
def run_producer(data_dir: Path) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Runs `python -m producer ARGS` in a subprocess with the shared data dir."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        full_env = os.environ | {"PRODUCER_DATA_DIR": str(data_dir)} | (env or {})
        return subprocess.run(
            [sys.executable, "-m", "producer", *args],
            cwd=REPO_ROOT,
            env=full_env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def postgres_env(postgres_dsn: str) -> dict[str, str]:
    """The POSTGRES_* variables the producer reads, for the test database."""
    parts = parse_dsn(postgres_dsn)
    return {
        "POSTGRES_HOST": parts.get("host", "127.0.0.1"),
        "POSTGRES_PORT": parts.get("port", "5432"),
        "POSTGRES_DB": parts["dbname"],
        "POSTGRES_USER": parts["user"],
        "POSTGRES_PASSWORD": parts.get("password", ""),
    }
