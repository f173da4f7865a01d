"""How every component reaches PostgreSQL: the roles of sql/001_roles.sql, and the one DSN builder.

The DSN builder quotes every value (a password may hold spaces, quotes or backslashes) and makes
libpq insist on SCRAM: a process squatting the port while the stack is down, asking for the password
in clear text (or for none), gets a refused connection instead of the password.
"""

from __future__ import annotations

from typing import Any

from psycopg2 import sql
from psycopg2.extensions import cursor, encrypt_password, make_dsn

from wikistream.env_file import read_env_file
from wikistream.paths import STACK_ENV

# The role names of config/stack.env, read from the file alone: sql/ creates and grants these very
# names (a test checks they agree), so an environment variable must not rename one of them.
_NAMES = read_env_file(STACK_ENV)
# The admin owns the schema; each component logs in as its own role.
ADMIN_USER = _NAMES["POSTGRES_ADMIN_USER"]
SEEDER_USER = _NAMES["POSTGRES_SEEDER_USER"]
WRITER_USER = _NAMES["POSTGRES_WRITER_USER"]
READER_USER = _NAMES["POSTGRES_READER_USER"]
# Metabase's application database on the embedded stack: its own database, owned by its own role,
# which cannot connect to the analytics database (stack/metabase.py).
METABASE_APP_USER = _NAMES["METABASE_APP_USER"]
METABASE_APP_DB = _NAMES["METABASE_APP_DB"]
# The variable (and, in a container, the secret file) holding each role's password.
PASSWORD_VARIABLES = {
    ADMIN_USER: "POSTGRES_ADMIN_PASSWORD",
    WRITER_USER: "POSTGRES_WRITER_PASSWORD",
    READER_USER: "POSTGRES_READER_PASSWORD",
    SEEDER_USER: "POSTGRES_SEEDER_PASSWORD",
}

REQUIRE_AUTH = "scram-sha-256"


def set_login_password(cur: cursor, role: str, password: str, *, create: bool = False) -> None:
    """Make role (CREATE it when create) a login role with password, sent as a SCRAM verifier.

    The verifier is computed here, so no statement carries the password: PostgreSQL logs a statement
    that fails (log_min_error_statement), and a statement's text can reach pg_stat_statements.
    """
    verifier = encrypt_password(password, role, cur.connection, REQUIRE_AUTH)
    verb = "CREATE" if create else "ALTER"
    cur.execute(sql.SQL(verb + " ROLE {} WITH LOGIN PASSWORD %s").format(sql.Identifier(role)), (verifier,))


def jdbc_url(host: str, port: int, dbname: str) -> str:
    """The job's (pgjdbc) address of a database; the SCRAM requirement is added by JobSettings.jdbc_url."""
    return f"jdbc:postgresql://{host}:{port}/{dbname}"


def libpq_dsn(*, host: str, port: int, dbname: str, user: str, password: str, connect_timeout: int = 5) -> str:
    return make_dsn(
        host=host,
        port=port,
        dbname=dbname,
        user=user,
        password=password,
        connect_timeout=connect_timeout,
        require_auth=REQUIRE_AUTH,
    )


def single_row(cur: cursor) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (an aggregate without GROUP BY)."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"no row from {cur.query!r}")
    return tuple(row)
