"""Runs the dashboards commands as the CLI does, against the stand-in Metabase."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dashboards.admin_session import ADMIN_FILE_NAME, AdminSession, open_admin_session
from dashboards.apply import ApplyReport, apply_definitions
from dashboards.definitions import DefinitionFile
from dashboards.metabase_client import MetabaseClient
from dashboards.reader_connection import ReaderConnection
from tests.dashboards.metabase_standin import MetabaseStandIn


class Operator:
    """Runs the dashboards commands the way the CLI does: a fresh client and session per run.

    `reader` gives PostgreSQL as Metabase reaches it: the stand-in logs in with it when the database
    is registered, so it must be a real, reachable one. It is resolved when first used, so tests that
    only open sessions start no PostgreSQL."""

    def __init__(self, metabase: MetabaseStandIn, state_dir: Path, reader: Callable[[], ReaderConnection]) -> None:
        self.metabase = metabase
        self.credentials_file = state_dir / ADMIN_FILE_NAME
        self._reader = reader

    @property
    def reader(self) -> ReaderConnection:
        return self._reader()

    def session(self) -> tuple[MetabaseClient, AdminSession]:
        client = MetabaseClient(self.metabase.url)
        return client, open_admin_session(client, self.credentials_file, site_name="wikistream")

    def apply(
        self,
        definitions: DefinitionFile,
        reader: ReaderConnection | None = None,
        update_database_password: bool = False,
    ) -> ApplyReport:
        client, _ = self.session()
        with client:
            return apply_definitions(client, definitions, reader or self.reader, "wikistream", update_database_password)
