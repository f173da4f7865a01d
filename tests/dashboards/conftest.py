"""Fixtures for the dashboard tests: a stand-in Metabase, and a real PostgreSQL: one that Metabase is
told to reach (it logs in when a database is registered), and one with a few known rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import parse_dsn

from dashboards.definitions import DEFAULT_DEFINITIONS, DefinitionFile, load_definitions
from dashboards.reader_connection import ReaderConnection
from stack.postgres import EmbeddedPostgres
from tests.conftest import schema_database
from tests.dashboards.metabase_standin import MetabaseStandIn
from tests.dashboards.operator import Operator


@pytest.fixture()
def metabase() -> Iterator[MetabaseStandIn]:
    with MetabaseStandIn() as standin:
        yield standin


@pytest.fixture()
def definitions() -> DefinitionFile:
    return load_definitions(DEFAULT_DEFINITIONS)


@pytest.fixture(scope="session")
def metabase_side_reader(postgres_server: EmbeddedPostgres) -> Iterator[ReaderConnection]:
    """The read-only role's login to a database of the session's PostgreSQL, as Metabase is told to
    reach it. The stand-in only logs in, so one database (schema and role passwords applied) serves
    every test."""
    with schema_database(postgres_server, "metabase") as (name, _):
        yield ReaderConnection("127.0.0.1", postgres_server.port, name, postgres_server.credentials.reader_password)


@pytest.fixture()
def operator(metabase: MetabaseStandIn, tmp_path: Path, request: pytest.FixtureRequest) -> Operator:
    return Operator(metabase, tmp_path / "state", lambda: request.getfixturevalue("metabase_side_reader"))


# --- a real PostgreSQL with known rows ------------------------------------------------------------------
SEED_SQL = """
WITH m AS (SELECT date_trunc('minute', now()) AS minute)
INSERT INTO clicks_per_minute_article (window_start, article, clicks)
SELECT minute - interval '2 minutes', 'Alan_Turing', 5 FROM m UNION ALL
SELECT minute - interval '2 minutes', 'Ada_Lovelace', 3 FROM m UNION ALL
SELECT minute - interval '30 minutes', 'Grace_Hopper', 7 FROM m UNION ALL
SELECT minute - interval '120 minutes', 'Old_News', 100 FROM m;

WITH m AS (SELECT date_trunc('minute', now()) AS minute)
INSERT INTO clicks_per_minute_referrer (window_start, referrer_class, clicks)
SELECT minute - interval '2 minutes', 'search', 6 FROM m UNION ALL
SELECT minute - interval '2 minutes', 'internal link', 2 FROM m UNION ALL
SELECT minute - interval '90 minutes', 'external site', 50 FROM m;

WITH m AS (SELECT date_trunc('minute', now()) AS minute)
INSERT INTO clicks_per_minute_country (window_start, country, clicks)
SELECT minute - interval '2 minutes', 'Germany', 4 FROM m UNION ALL
SELECT minute - interval '3 minutes', 'Germany', 1 FROM m UNION ALL
SELECT minute - interval '2 minutes', 'Brazil', 3 FROM m;

INSERT INTO clicks (event_id, user_id, session_id, seq, prev, curr, link_type, referrer_class,
                    event_time, kafka_partition, kafka_offset, ingested_at) VALUES
  ('e1', 'u1', 's1', 1, 'other-search', 'Alan_Turing', 'external', 'search',
   now() - interval '90 seconds', 0, 1, now()),
  ('e2', 'u1', 's1', 2, 'Alan_Turing', 'Ada_Lovelace', 'link', 'internal link',
   now() - interval '60 seconds', 0, 2, now()),
  ('e3', 'u2', 's2', 1, 'other-empty', 'Grace_Hopper', 'other', 'no referrer',
   now() - interval '30 seconds', 1, 1, now());

INSERT INTO rejected_events (kafka_partition, kafka_offset, reason, raw_payload, received_at) VALUES
  (0, 10, 'invalid JSON', '{', now()),
  (0, 11, 'invalid JSON', '}', now()),
  (1, 12, 'missing field: user_id', '{}', now());

INSERT INTO pipeline_health (observed_at, degraded, reasons, job_id, job_state, tasks_running, tasks_total,
                             restarts_10m, resubmissions_10m, last_exception, checkpoint_age_s, lag_total, lag,
                             newest_click_age_s, sink_retrying, quarantined_rows) VALUES
  (now(), true, ARRAY['1 sink(s) retrying PostgreSQL'], 'j1', 'RUNNING', 10, 10, 1, 0, 'IOException: <b>x</b>', 4.2,
   12, '{"0": 7, "1": 5}', 0.4, 1, 0);

INSERT INTO session_stats (session_id, user_id, pages, first_event, last_event, duration_s, seqs) VALUES
  ('s1', 'u1', 2, now() - interval '90 seconds', now() - interval '60 seconds', 30, '{1,2}'),
  ('s2', 'u2', 1, now() - interval '30 seconds', now() - interval '30 seconds', 0, '{1}'),
  ('s0', 'u0', 9, now() - interval '3 hours', now() - interval '2 hours', 3600, '{1,2,3,4,5,6,7,8,9}');
"""


@pytest.fixture()
def seeded_reader(postgres_dsn: str, postgres_server: EmbeddedPostgres) -> ReaderConnection:
    """The read-only role's connection to a fresh database holding the rows of SEED_SQL."""
    with closing(psycopg2.connect(postgres_dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute(SEED_SQL)
    params = parse_dsn(postgres_dsn)
    return ReaderConnection(
        params["host"], int(params["port"]), params["dbname"], postgres_server.credentials.reader_password
    )
