"""The job's JDBC connections (sinks and the users lookup) send the password only to SCRAM.

pgjdbc has no require_auth; the job's URL names ScramOnlyAuthentication (flink_job/functions).
Checked with the real driver and the job's real URL, run by the JDK against a squatter
(tests/squatter.py) and against a real PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from psycopg2.extensions import parse_dsn

from flink_job.settings import JobSettings
from stack.postgres import EmbeddedPostgres
from tests.squatter import PASSWORD, Squatter
from wikistream.postgres import WRITER_USER

PROBE = Path(__file__).with_name("JdbcProbe.java")


def _probe(url: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
    jars = JobSettings(POSTGRES_WRITER_PASSWORD="unused").jars_dir
    classpath = os.pathsep.join(
        str(jar) for jar in sorted(jars.glob("*.jar")) if "postgresql" in jar.name or "wikistream" in jar.name
    )
    return subprocess.run(
        ["java", "-cp", classpath, str(PROBE), url, user, password],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _job_url(host: str, port: int, database: str) -> str:
    return JobSettings(
        POSTGRES_JDBC_URL=f"jdbc:postgresql://{host}:{port}/{database}", POSTGRES_WRITER_PASSWORD="x"
    ).sink_url


def test_pgjdbc_by_default_hands_the_password_to_a_squatter(squatter: Squatter) -> None:
    result = _probe(f"jdbc:postgresql://127.0.0.1:{squatter.port}/x", "u", PASSWORD)
    squatter.close()
    assert result.returncode == 3, result.stdout + result.stderr
    assert PASSWORD.encode() in squatter.received


def test_the_jobs_url_refuses_to_send_the_password_in_clear(squatter: Squatter) -> None:
    result = _probe(_job_url("127.0.0.1", squatter.port, "x"), "u", PASSWORD)
    squatter.close()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "refusing to send the password" in result.stdout
    assert PASSWORD.encode() not in squatter.received


@pytest.mark.slow
def test_the_jobs_url_logs_in_to_a_real_postgresql(postgres_dsn: str, postgres_server: EmbeddedPostgres) -> None:
    params = parse_dsn(postgres_dsn)
    url = _job_url(params["host"], int(params["port"]), params["dbname"])
    result = _probe(url, WRITER_USER, postgres_server.credentials.writer_password)
    assert result.stdout.strip() == f"connected as {WRITER_USER}", result.stdout + result.stderr
