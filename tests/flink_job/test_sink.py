"""The wikistream-jdbc sink (flink_job/functions) on a real PostgreSQL, run by a local Flink.

What it guarantees: rows PostgreSQL accepts land (upserted), a row it refuses is quarantined with
the database's reason while the rest of its batch lands, and an unreachable database fails the
write after the bounded retries instead of quarantining anything.
"""

from __future__ import annotations

import json
from contextlib import closing

import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

from flink_job.pipeline import sink_ddls
from flink_job.settings import JobSettings
from flink_job.validation import sql_string
from stack.preflight import free_port


def _env():
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    config.set("table.local-time-zone", "UTC")
    config.set("parallelism.default", "1")
    config.set("pipeline.jars", ";".join(JobSettings(POSTGRES_WRITER_PASSWORD="unused").jar_uris()))
    return env


def _sink(env, name: str, columns: str, key: str, url: str, user: str, password: str, **extra: str) -> None:
    options = {
        "connector": "wikistream-jdbc",
        "url": url,
        "table-name": name,
        "username": user,
        "password": password,
        "sink.buffer-flush.max-rows": "100",
        "sink.retry-backoff": "100 ms",
        **extra,
    }
    rendered = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in options.items())
    env.execute_sql(
        f"CREATE TEMPORARY TABLE sink_{name} ({columns}, PRIMARY KEY ({key}) NOT ENFORCED) WITH ({rendered})"
    )


def _jdbc(dsn: str) -> tuple[str, str, str]:
    params = parse_dsn(dsn)
    return f"jdbc:postgresql://{params['host']}:{params['port']}/{params['dbname']}", params["user"], params["password"]


def _rows(dsn: str, query: str) -> list[tuple]:
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()


def test_refused_clicks_are_quarantined_with_their_bytes_and_the_rest_lands(postgres_dsn: str) -> None:
    env = _env()
    url, user, password = _jdbc(postgres_dsn)
    settings = JobSettings(POSTGRES_JDBC_URL=url, POSTGRES_WRITER_USER=user, POSTGRES_WRITER_PASSWORD=password)
    # The job's own clicks sink, so the test follows its columns, key and quarantine options.
    env.execute_sql(next(ddl for ddl in sink_ddls(settings) if "sink_clicks (" in ddl))
    # Row 3 holds a NUL (PostgreSQL refuses it in text); row 4 breaks the seq CHECK; the rest are fine.
    curr = ["Alpha", "Beta", "Gam\u0000ma", "Delta", "Epsilon"]
    seq = [1, 2, 3, 0, 5]
    values = ", ".join(
        f"('e{i}', 'u', 's', {seq[i]}, 'other-search', {sql_string(curr[i])}, 'link', 'search',"
        f" TIMESTAMP '2026-12-01 10:00:00', 0, {100 + i}, TIMESTAMP '2026-12-01 10:00:01',"
        f" CAST({sql_string(json.dumps({'n': i}))} AS BYTES), TIMESTAMP '2026-12-01 10:00:01')"
        for i in range(5)
    )
    env.execute_sql(f"INSERT INTO sink_clicks VALUES {values}").wait()
    assert _rows(postgres_dsn, "SELECT event_id FROM clicks ORDER BY event_id") == [("e0",), ("e1",), ("e4",)]
    quarantined = _rows(postgres_dsn, "SELECT kafka_offset, reason, raw_payload FROM rejected_events ORDER BY 1")
    assert [(offset, bytes(payload)) for offset, _, payload in quarantined] == [(102, b'{"n": 2}'), (103, b'{"n": 3}')]
    assert quarantined[0][1].startswith("refused by PostgreSQL writing clicks: 22021")
    assert quarantined[1][1].startswith("refused by PostgreSQL writing clicks: 23514")


def test_refused_rows_without_a_kafka_position_go_to_refused_rows(postgres_dsn: str) -> None:
    env = _env()
    url, user, password = _jdbc(postgres_dsn)
    _sink(
        env,
        "clicks_per_minute_article",
        "window_start TIMESTAMP(3), article STRING, clicks BIGINT",
        "window_start, article",
        url,
        user,
        password,
    )
    rows = ", ".join(
        f"(TIMESTAMP '2026-12-01 10:00:00', {sql_string(a)}, {n})"
        for a, n in [("Ok", 3), ("Bad\u0000", 4), ("Fine", 5)]
    )
    env.execute_sql(f"INSERT INTO sink_clicks_per_minute_article VALUES {rows}").wait()
    assert _rows(postgres_dsn, "SELECT article, clicks FROM clicks_per_minute_article ORDER BY 1") == [
        ("Fine", 5),
        ("Ok", 3),
    ]
    refused = _rows(postgres_dsn, "SELECT table_name, row_key, row_data, reason FROM refused_rows")
    assert len(refused) == 1
    table, key, data, reason = refused[0]
    assert table == "clicks_per_minute_article" and reason.startswith("refused by PostgreSQL")
    assert json.loads(data)["article"] == "Bad\u0000" and json.loads(key)["article"] == "Bad\u0000"


def test_an_unreachable_database_fails_the_write_and_quarantines_nothing(postgres_dsn: str) -> None:
    env = _env()
    _, user, password = _jdbc(postgres_dsn)
    _sink(
        env,
        "clicks_per_minute_article",
        "window_start TIMESTAMP(3), article STRING, clicks BIGINT",
        "window_start, article",
        f"jdbc:postgresql://127.0.0.1:{free_port()}/nowhere",
        user,
        password,
        **{"sink.max-retries": "2"},
    )
    with pytest.raises(Exception, match="did not accept a batch for clicks_per_minute_article after 3 attempts"):
        env.execute_sql(
            "INSERT INTO sink_clicks_per_minute_article VALUES (TIMESTAMP '2026-12-01 10:00:00', 'A', 1)"
        ).wait()
    assert _rows(postgres_dsn, "SELECT count(*) FROM refused_rows") == [(0,)]
