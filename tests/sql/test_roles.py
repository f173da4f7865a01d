"""Least privilege, by logging in as each role: what every component's role can and cannot do.

Each statement runs as the role on a real database with sql/ applied. The admin, a superuser, runs
the same probes first: a probe it cannot run proves nothing about the others.
"""

from __future__ import annotations

import uuid
from contextlib import closing

import psycopg2
import pytest
from psycopg2 import errors
from psycopg2.extensions import parse_dsn

from stack.postgres import EmbeddedPostgres
from wikistream.credentials import Credentials
from wikistream.postgres import ADMIN_USER, READER_USER, SEEDER_USER, WRITER_USER, set_login_password

USER_ROW = "('u', 'n', 'f', 'l', 'x', 'e@example.com', 'c', 'XX', 30, now(), 1, 'offline-synthetic')"
CLICK_ROW = "('e', 'u', 's', 1, 'a', 'b', 'link', 'internal link', now(), 0, 0, now())"
PROBES = {
    # The program reads what it is sent: one that exits first ('true') races the server's write (EPIPE).
    "run a shell command": "COPY (SELECT 1) TO PROGRAM 'cat >/dev/null'",
    "read a server file": "SELECT pg_read_file('PG_VERSION')",
    "create a table": "CREATE TABLE probe (id int)",
    "create a temporary table": "CREATE TEMPORARY TABLE probe (id int)",
    "become the admin": f"SET ROLE {ADMIN_USER}",
    "read users": "SELECT count(*) FROM users",
    "seed users": f"INSERT INTO users VALUES {USER_ROW} ON CONFLICT (user_id) DO UPDATE SET age = EXCLUDED.age",
    "read clicks": "SELECT count(*) FROM clicks",
    "write clicks": f"INSERT INTO clicks VALUES {CLICK_ROW}"
    " ON CONFLICT (event_id, event_time) DO UPDATE SET curr = EXCLUDED.curr",
    "read rejected payloads": "SELECT raw_payload FROM rejected_events",
    "write rejected events": "INSERT INTO rejected_events (kafka_partition, kafka_offset, reason, received_at)"
    " VALUES (0, 0, 'r', now())",
    "write minute aggregates": "INSERT INTO clicks_per_minute_article VALUES (now(), 'a', 1)"
    " ON CONFLICT (window_start, article) DO UPDATE SET clicks = EXCLUDED.clicks",
    "record health": "INSERT INTO pipeline_health SELECT * FROM pipeline_health WHERE false",
    "read the dashboards' views": "SELECT count(*) FROM v_latest_clicks, v_pipeline_health",
    "delete users": "DELETE FROM users",
}
# What each role may do; every other probe must be refused.
ALLOWED = {
    SEEDER_USER: {"read users", "seed users"},
    WRITER_USER: {
        "read users",
        "read clicks",
        "write clicks",
        "read rejected payloads",
        "write rejected events",
        "write minute aggregates",
        "record health",
    },
    READER_USER: {"read the dashboards' views"},
}
REFUSED = (errors.InsufficientPrivilege, errors.ObjectNotInPrerequisiteState)


def _password(credentials: Credentials, role: str) -> str:
    return {
        ADMIN_USER: credentials.admin_password,
        SEEDER_USER: credentials.seeder_password,
        WRITER_USER: credentials.writer_password,
        READER_USER: credentials.reader_password,
    }[role]


def _connect_as(dsn: str, role: str, credentials: Credentials) -> psycopg2.extensions.connection:
    return psycopg2.connect(**(parse_dsn(dsn) | {"user": role, "password": _password(credentials, role)}))


def _outcome(conn: psycopg2.extensions.connection, statement: str) -> bool:
    """Whether the role may run statement (in a transaction rolled back, so probes do not interact)."""
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
        return True
    except REFUSED:
        return False
    finally:
        conn.rollback()


def test_the_admin_can_run_every_probe(postgres_dsn: str, postgres_server: EmbeddedPostgres) -> None:
    with closing(_connect_as(postgres_dsn, ADMIN_USER, postgres_server.credentials)) as conn:
        refused = [name for name, statement in PROBES.items() if not _outcome(conn, statement)]
    assert refused == []


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_can_do_only_what_its_component_needs(
    role: str, postgres_dsn: str, postgres_server: EmbeddedPostgres
) -> None:
    with closing(_connect_as(postgres_dsn, role, postgres_server.credentials)) as conn:
        allowed = {name for name, statement in PROBES.items() if _outcome(conn, statement)}
    assert allowed == ALLOWED[role]


def test_the_reader_can_read_every_view(postgres_dsn: str, postgres_server: EmbeddedPostgres) -> None:
    with closing(psycopg2.connect(postgres_dsn)) as admin, admin.cursor() as cur:
        cur.execute("SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY 1")
        views = [name for (name,) in cur.fetchall()]
    assert len(views) >= 10
    with closing(_connect_as(postgres_dsn, READER_USER, postgres_server.credentials)) as conn:
        unreadable = [view for view in views if not _outcome(conn, f'SELECT * FROM "{view}" LIMIT 1')]
    assert unreadable == []


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_every_role_has_a_statement_timeout(role: str, postgres_dsn: str, postgres_server: EmbeddedPostgres) -> None:
    with closing(_connect_as(postgres_dsn, role, postgres_server.credentials)) as conn, conn.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        (timeout,) = cur.fetchone()
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        powers = cur.fetchone()
    assert timeout != "0"
    assert powers == (False, False, False)


def test_a_password_statement_that_fails_leaves_no_password_in_the_server_log(
    postgres_server: EmbeddedPostgres,
) -> None:
    """PostgreSQL logs a failing statement whole; the password travels as a SCRAM verifier, so the
    log shows the verifier and never the password."""
    password = "never-in-the-log-" + uuid.uuid4().hex
    log = postgres_server.process.log_file
    logged_before = log.stat().st_size
    with (
        closing(postgres_server.admin_connect("postgres")) as conn,
        conn.cursor() as cur,
        pytest.raises(errors.UndefinedObject),
    ):
        set_login_password(cur, "no_such_role", password)
    logged = log.read_bytes()[logged_before:].decode(errors="replace")
    assert 'ALTER ROLE "no_such_role"' in logged, logged  # the failing statement was logged
    assert "SCRAM-SHA-256$4096:" in logged
    assert password not in logged
