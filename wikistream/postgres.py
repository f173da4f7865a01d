"""How every component reaches PostgreSQL: the roles of sql/001_roles.sql, and the one DSN builder.

The DSN builder quotes every value (a password may hold spaces, quotes or backslashes) and makes
libpq insist on SCRAM: a process squatting the port while the stack is down, asking for the password
in clear text (or for none), gets a refused connection instead of the password.
"""

from __future__ import annotations

from psycopg2.extensions import make_dsn

# The admin owns the schema; each component logs in as its own role.
ADMIN_USER = "wikistream_admin"
SEEDER_USER = "wikistream_seeder"
WRITER_USER = "wikistream_writer"
READER_USER = "wikistream_reader"
# Metabase's application database on the embedded stack: its own database, owned by its own role,
# which cannot connect to the analytics database (stack/metabase.py).
METABASE_APP_USER = "wikistream_metabase"
METABASE_APP_DB = "wikistream_metabase"

REQUIRE_AUTH = "scram-sha-256"


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
