"""Row counts of the main tables, the same for either stack (`make count-rows`)."""

from __future__ import annotations

import psycopg2

from stack.preflight import PrerequisiteError
from wikistream.postgres import libpq_dsn, single_row

COUNTED_TABLES = ("users", "clicks", "rejected_events", "late_events", "clicks_per_minute_article", "session_stats")


def count_rows(*, host: str, port: int, dbname: str, user: str, password: str, hint: str) -> dict[str, int]:
    """Counts per table; an unreachable PostgreSQL is a one-line error ending with `hint`."""
    try:
        conn = psycopg2.connect(libpq_dsn(host=host, port=port, dbname=dbname, user=user, password=password))
    except psycopg2.OperationalError as error:
        raise PrerequisiteError(
            f"PostgreSQL at {host}:{port} is not reachable ({error.args[0].strip()}): {hint}"
        ) from error
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in COUNTED_TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")
                counts[table] = int(single_row(cur)[0])
            return counts
    finally:
        conn.close()
