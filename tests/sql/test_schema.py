"""The schema on a real PostgreSQL: idempotent, ordered, and the roles can do only what they should."""

from __future__ import annotations

import subprocess
from contextlib import closing

import psycopg2
import pytest
from psycopg2 import errors
from psycopg2.extensions import parse_dsn

from stack.postgres import EmbeddedPostgres, server_bin_dir
from wikistream.postgres import READER_USER, WRITER_USER
from wikistream.schema import apply_schema_files
from wikistream.settings import stack_settings


def schema_dump(dsn: str) -> str:
    params = parse_dsn(dsn)
    return subprocess.run(
        [
            str(server_bin_dir() / "pg_dump"),
            "--schema-only",
            "--no-comments",
            "--restrict-key=wikistream",
            "-h",
            params["host"],
            "-p",
            params["port"],
            "-U",
            params["user"],
            params["dbname"],
        ],
        env={"PGPASSWORD": params["password"]},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_reapplying_the_schema_changes_nothing(postgres_dsn: str, postgres_server: EmbeddedPostgres) -> None:
    before = schema_dump(postgres_dsn)
    assert "CREATE TABLE public.clicks" in before
    apply_schema_files(
        psycopg2.connect(postgres_dsn), postgres_server.credentials.role_passwords(), stack_settings().retention()
    )
    assert schema_dump(postgres_dsn) == before


def _connect_as(dsn: str, user: str, password: str) -> psycopg2.extensions.connection:
    params = parse_dsn(dsn) | {"user": user, "password": password}
    return psycopg2.connect(**params)


def test_reader_can_read_but_not_write(postgres_dsn: str, postgres_server: EmbeddedPostgres) -> None:
    with closing(_connect_as(postgres_dsn, READER_USER, postgres_server.credentials.reader_password)) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM v_latest_clicks")
            assert cur.fetchone() == (0,)
        for statement in (
            "INSERT INTO clicks VALUES ('e', 'u', 's', 1, 'a', 'b', 'link', 'internal link', now(), 0, 0, now())",
            "DELETE FROM users",
            "CREATE TABLE sneaky (id int)",
        ):
            with pytest.raises(errors.InsufficientPrivilege), conn.cursor() as cur:
                cur.execute(statement)
            conn.rollback()


def test_writer_writes_stream_tables_only(postgres_dsn: str, postgres_server: EmbeddedPostgres) -> None:
    with closing(_connect_as(postgres_dsn, WRITER_USER, postgres_server.credentials.writer_password)) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO clicks VALUES ('e', 'u', 's', 1, 'a', 'b', 'link', 'internal link', now(), 0, 0, now())"
                " ON CONFLICT (event_id, event_time) DO UPDATE SET curr = EXCLUDED.curr"
            )
            cur.execute("SELECT count(*) FROM users")
        conn.commit()
        with pytest.raises(errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users VALUES ('u', 'n', 'f', 'l', 'x', 'e', 'c', 'XX', 1, now(), 1, 'offline-synthetic')"
            )
