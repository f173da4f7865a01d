"""What the test metabase.jar (tests/stack/fake_metabase) runs: the Metabase stand-in, configured like Metabase.

It reads Metabase's own environment variables: MB_JETTY_HOST/MB_JETTY_PORT to listen on, and
MB_DB_* for its application database, where it writes what Metabase's migrations would (a
databasechangelog table), so a test can tell that the database and role it was given work.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import closing

import psycopg2

from tests.dashboards.metabase_standin import MetabaseStandIn
from wikistream.postgres import libpq_dsn


def _migrate_application_database() -> None:
    dsn = libpq_dsn(
        host=os.environ["MB_DB_HOST"],
        port=int(os.environ["MB_DB_PORT"]),
        dbname=os.environ["MB_DB_DBNAME"],
        user=os.environ["MB_DB_USER"],
        password=os.environ["MB_DB_PASS"],
    )
    with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS databasechangelog (id text PRIMARY KEY, dateexecuted timestamptz)")
        cur.execute("INSERT INTO databasechangelog VALUES ('v56.initial', now()) ON CONFLICT DO NOTHING")


def main() -> None:
    if os.environ.get("MB_DB_TYPE") != "postgres":
        raise SystemExit(f"MB_DB_TYPE is {os.environ.get('MB_DB_TYPE')!r}, not postgres")
    _migrate_application_database()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with MetabaseStandIn(host=os.environ["MB_JETTY_HOST"], port=int(os.environ["MB_JETTY_PORT"])) as standin:
        print(f"Metabase stand-in listening on {standin.url}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
