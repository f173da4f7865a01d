"""The database bootstrap both stacks run, once per start: the analytics database created if it is
missing, sql/NNN_*.sql applied in file-name order in one transaction, every role's password set,
and the retention settings written and applied (sql/006_retention.sql), so the day partitions exist
before the first row needs them.

The embedded stack calls bootstrap() (stack/postgres.py). The PostgreSQL image runs
`python -m wikistream.schema` from its entrypoint, on a private Unix socket before the server
opens TCP; the passwords come from the environment, else from one file per variable in
WIKISTREAM_SECRETS_DIR (/run/secrets there), and never from the command line; the retention from
RETENTION_*_DAYS (config/stack.env, through the environment there).

Only psycopg2 and the standard library are imported: the image carries nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection, make_dsn

from wikistream.paths import SQL_DIR
from wikistream.postgres import ADMIN_USER, PASSWORD_VARIABLES, set_login_password
from wikistream.retention import Retention, apply_retention, describe

SCHEMA_LOCK = "wikistream-schema"

Connect = Callable[[str], connection]


def schema_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(sql_dir.glob("[0-9][0-9][0-9]_*.sql"))


def ensure_database(connect: Connect, database: str) -> bool:
    """Create the database unless it exists; True when it was created."""
    conn = connect("postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is not None:
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            return True
    finally:
        conn.close()


def apply_schema_files(
    conn: connection,
    passwords: Mapping[str, str],
    retention: Retention,
    report: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Apply every sql/NNN_*.sql file in order, in one transaction, then set the passwords (by role)
    and the retention.

    The files are idempotent, so applying them again changes nothing; the connection is closed.
    """
    files = schema_files()
    try:
        with conn, conn.cursor() as cur:
            # Serialise concurrent appliers (a second `make run`, a test) on one advisory lock.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (SCHEMA_LOCK,))
            for path in files:
                report(f"applying {path.name}")
                cur.execute(path.read_text())
            for role, password in passwords.items():
                set_login_password(cur, role, password)
            for action in apply_retention(cur, retention):
                report(f"retention: {describe(action)}")
    finally:
        conn.close()
    return [path.name for path in files]


def bootstrap(
    connect: Connect,
    database: str,
    passwords: Mapping[str, str],
    retention: Retention,
    report: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """The database, its schema, the role passwords and the retention; returns the files applied."""
    ensure_database(connect, database)
    return apply_schema_files(connect(database), passwords, retention, report)


def passwords_from_environment(secrets_dir: Path | None) -> dict[str, str]:
    """Every role's password: its variable, else the file of that name in secrets_dir."""
    passwords: dict[str, str] = {}
    for role, variable in PASSWORD_VARIABLES.items():
        value = os.environ.get(variable)
        file = secrets_dir / variable if secrets_dir else None
        if not value and file is not None and file.is_file():
            value = file.read_text().strip()
        if not value:
            where = f"nor in {file}" if file is not None else "and WIKISTREAM_SECRETS_DIR is not set"
            raise SystemExit(f"schema: {variable} is neither in the environment {where}")
        passwords[role] = value
    return passwords


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wikistream.schema", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True, help="server address, or the directory of its Unix socket")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dbname", required=True, help="the analytics database")
    args = parser.parse_args(argv)
    secrets_dir = os.environ.get("WIKISTREAM_SECRETS_DIR")
    passwords = passwords_from_environment(Path(secrets_dir) if secrets_dir else None)
    retention = Retention.from_environment()

    def connect(database: str) -> connection:
        # The image's socket admits only its server account, as the admin (peer): no password here.
        return psycopg2.connect(make_dsn(host=args.host, port=args.port, dbname=database, user=ADMIN_USER))

    applied = bootstrap(connect, args.dbname, passwords, retention, lambda line: print(f"schema: {line}", flush=True))
    print(f"schema: {len(applied)} files applied to {args.dbname}, {len(passwords)} role passwords set", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
