"""How the dashboards reach PostgreSQL: always as the read-only role wikistream_reader.

The same values serve two readers: the snapshot (from this machine, 127.0.0.1) and Metabase (which
may reach PostgreSQL under another host name, e.g. on a container network).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import psycopg2

from wikistream.credentials import stored_password
from wikistream.layout import Layout
from wikistream.postgres import READER_USER, libpq_dsn
from wikistream.settings import StackSettings

READER_PASSWORD_KEY = "POSTGRES_READER_PASSWORD"


class ReaderPasswordMissing(RuntimeError):
    """Neither the environment nor the stack's secrets file has the reader's password."""


@dataclass(frozen=True)
class ReaderConnection:
    host: str
    port: int
    dbname: str
    password: str
    user: str = READER_USER

    @classmethod
    def from_stack(cls, settings: StackSettings) -> ReaderConnection:
        return cls("127.0.0.1", settings.postgres_port, settings.postgres_db, reader_password(settings))

    def reached_as(self, host: str | None = None, port: int | None = None) -> ReaderConnection:
        return replace(self, host=host or self.host, port=port or self.port)

    def connect(self) -> psycopg2.extensions.connection:
        return psycopg2.connect(
            libpq_dsn(host=self.host, port=self.port, dbname=self.dbname, user=self.user, password=self.password),
            application_name="wikistream-dashboards",
        )


def reader_password(settings: StackSettings) -> str:
    secrets_file = Layout(settings.state_path).secrets_file
    password = stored_password(secrets_file, READER_PASSWORD_KEY)
    if password:
        return password
    raise ReaderPasswordMissing(
        f"no {READER_PASSWORD_KEY} in the environment or in {secrets_file}: start the stack first (make run)."
    )
