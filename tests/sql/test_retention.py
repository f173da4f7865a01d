"""Retention on a real PostgreSQL (sql/006_retention.sql): days created ahead, expired days dropped,
rows that reached DEFAULT moved into their day, keyed upserts still idempotent, and a database from
before partitioning upgraded with its rows. Days are played with maintain_stream_table_at, as the
schema's owner; the writer can only run the maintenance now.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest
from psycopg2 import errors, sql
from psycopg2.extensions import make_dsn

from stack.postgres import EmbeddedPostgres
from tests.conftest import schema_database
from wikistream.paths import REPO_ROOT
from wikistream.postgres import ADMIN_USER, WRITER_USER, libpq_dsn
from wikistream.retention import Retention, maintain
from wikistream.schema import apply_schema_files

RETENTION = Retention(raw_days=7, aggregate_days=90)
PARTITIONED = (
    "clicks",
    "clicks_per_minute_article",
    "clicks_per_minute_country",
    "clicks_per_minute_referrer",
    "late_events",
    "rejected_events",
)
OLD_SCHEMA = REPO_ROOT / "tests" / "sql" / "data" / "tables_before_partitioning.sql"


def day_partitions(dsn: str, table: str) -> set[date]:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass AND c.relname ~ '_p[0-9]{8}$'",
            (table,),
        )
        return {datetime.strptime(name[-8:], "%Y%m%d").date() for (name,) in cur.fetchall()}


def execute(dsn: str, statement: str, params: tuple | dict = ()) -> list[tuple]:
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute(statement, params or None)
        return cur.fetchall() if cur.description else []


def click(event_id: str, at: datetime) -> tuple:
    return (event_id, "u", "s", 1, "a", "b", "link", "internal link", at, 0, 0, at)


def insert_clicks(dsn: str, rows: list[tuple]) -> None:
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO clicks VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (event_id, event_time) DO UPDATE SET curr = EXCLUDED.curr",
            rows,
        )


@pytest.fixture()
def retained_dsn(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    with schema_database(postgres_server, "retention") as (_, dsn):
        yield dsn


def test_the_bootstrap_creates_today_and_two_days_ahead_for_every_partitioned_table(retained_dsn: str) -> None:
    today = datetime.now(UTC).date()
    for table in PARTITIONED:
        assert {today, today + timedelta(days=1), today + timedelta(days=2)} <= day_partitions(retained_dsn, table)


def test_playing_forty_days_keeps_each_class_to_its_days_and_drops_whole_days(retained_dsn: str) -> None:
    start = datetime(2030, 1, 1, 12, tzinfo=UTC)
    for n in range(40):
        at = start + timedelta(days=n)
        insert_clicks(retained_dsn, [click(f"e{n}-{i}", at + timedelta(minutes=i)) for i in range(3)])
        execute(
            retained_dsn,
            "INSERT INTO clicks_per_minute_article VALUES (%s, 'a', 3)",
            (at.replace(second=0, microsecond=0),),
        )
        maintain(retained_dsn, at)
    last = start + timedelta(days=39)
    kept_from = (last - timedelta(days=RETENTION.raw_days)).date()
    clicks_days = {d for d in day_partitions(retained_dsn, "clicks") if d.year == 2030}
    # Every day from the first kept one to two days ahead, and none before.
    assert clicks_days == {kept_from + timedelta(days=n) for n in range((last.date() - kept_from).days + 3)}
    assert execute(retained_dsn, "SELECT count(*) FROM clicks WHERE event_time >= '2030-01-01'")[0][0] == 3 * (
        (last.date() - kept_from).days + 1
    )
    # Aggregates keep 90 days: all 40 days are there.
    assert execute(retained_dsn, "SELECT count(*), sum(clicks) FROM clicks_per_minute_article")[0] == (40, 120)
    # Nothing went to DEFAULT: each day existed before its rows.
    assert execute(retained_dsn, "SELECT count(*) FROM clicks_default")[0][0] == 0


def test_rows_in_default_move_into_their_day_or_are_deleted_once_expired(retained_dsn: str) -> None:
    at = datetime(2031, 6, 15, 12, tzinfo=UTC)
    waiting = [click(f"w{n}", at - timedelta(days=n)) for n in range(10)]
    # No maintenance has run for 2031 yet: every row lands in DEFAULT.
    insert_clicks(retained_dsn, waiting)
    assert execute(retained_dsn, "SELECT count(*) FROM clicks_default")[0][0] == 10
    actions = maintain(retained_dsn, at)
    moved = sum(
        rows or 0 for action, relation, rows in actions if action == "created" and relation.startswith("clicks_p")
    )
    assert moved == RETENTION.raw_days + 1
    assert ("deleted", "clicks_default", 10 - moved) in actions
    assert execute(retained_dsn, "SELECT count(*) FROM clicks_default")[0][0] == 0
    assert execute(retained_dsn, "SELECT count(*) FROM clicks WHERE event_time >= '2031-01-01'")[0][0] == moved
    # The same rows upserted again update in their partitions instead of adding.
    insert_clicks(retained_dsn, waiting[:moved])
    assert execute(retained_dsn, "SELECT count(*) FROM clicks WHERE event_time >= '2031-01-01'")[0][0] == moved


def test_sessions_are_deleted_once_their_last_click_is_past_the_retention(retained_dsn: str) -> None:
    at = datetime(2032, 1, 1, tzinfo=UTC)
    for n, last in enumerate((at - timedelta(days=RETENTION.aggregate_days + 1), at - timedelta(days=1))):
        execute(
            retained_dsn,
            "INSERT INTO session_stats VALUES (%s, 'u', 1, %s, %s, 0, '{1}')",
            (f"s{n}", last, last),
        )
    assert ("deleted", "session_stats", 1) in maintain(retained_dsn, at)
    assert execute(retained_dsn, "SELECT session_id FROM session_stats") == [("s1",)]


def test_the_writer_runs_the_maintenance_now_and_cannot_play_another_time(
    retained_dsn: str, postgres_server: EmbeddedPostgres
) -> None:
    writer = make_dsn(retained_dsn, user=WRITER_USER, password=postgres_server.credentials.writer_password)
    maintain(writer)
    with pytest.raises(errors.InsufficientPrivilege):
        maintain(writer, datetime(2099, 1, 1, tzinfo=UTC))
    with pytest.raises(errors.InsufficientPrivilege):
        execute(writer, "SELECT stream_partition_ensure('clicks', 'event_time', '2099-01-01')")


def test_a_database_from_before_partitioning_keeps_its_rows(postgres_server: EmbeddedPostgres) -> None:
    name = f"upgrade_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.admin_connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = libpq_dsn(
        host="127.0.0.1",
        port=postgres_server.port,
        dbname=name,
        user=ADMIN_USER,
        password=postgres_server.credentials.admin_password,
    )
    try:
        now = datetime.now(UTC)
        execute(dsn, OLD_SCHEMA.read_text())
        with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
            for n in range(3):
                cur.execute(
                    "INSERT INTO clicks VALUES (%s, 'u', 's', 1, 'a', 'b', 'link', 'internal link', %s, 0, %s, %s)",
                    (f"old{n}", now - timedelta(days=n), n, now),
                )
            expired = now - timedelta(days=RETENTION.raw_days + 2)
            cur.execute(
                "INSERT INTO clicks VALUES ('expired', 'u', 's', 1, 'a', 'b', 'link', 'internal link', %s, 0, 9, %s)",
                (expired, now),
            )
            cur.execute("INSERT INTO rejected_events VALUES (0, 5, 'r', 'x', %s)", (now,))
            cur.execute("INSERT INTO session_stats VALUES ('s', 'u', 3, %s, %s, 0)", (now, now))
        apply_schema_files(psycopg2.connect(dsn), postgres_server.credentials.role_passwords(), RETENTION)
        assert execute(dsn, "SELECT event_id FROM clicks ORDER BY event_id") == [("old0",), ("old1",), ("old2",)]
        assert execute(dsn, "SELECT count(*) FROM clicks_default")[0][0] == 0
        assert execute(dsn, "SELECT kafka_offset FROM rejected_events") == [(5,)]
        assert execute(dsn, "SELECT pages, seqs FROM session_stats") == [(3, [1, 2, 3])]
        assert execute(dsn, "SELECT to_regclass('clicks_unpartitioned')") == [(None,)]
        assert (now - timedelta(days=2)).date() in day_partitions(dsn, "clicks")
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
