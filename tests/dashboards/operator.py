"""Runs the dashboards commands as the CLI does, against the stand-in Metabase."""

from __future__ import annotations

from pathlib import Path

from dashboards.admin_session import ADMIN_FILE_NAME, AdminSession, open_admin_session
from dashboards.apply import ApplyReport, apply_definitions
from dashboards.definitions import DefinitionFile
from dashboards.metabase_client import MetabaseClient
from dashboards.reader_connection import ReaderConnection
from tests.dashboards.metabase_standin import MetabaseStandIn

# How Metabase is told to reach PostgreSQL in the stand-in tests; nothing connects to it there.
METABASE_SIDE_READER = ReaderConnection(host="postgres", port=5432, dbname="wikistream", password="reader-secret")


class Operator:
    """Runs the dashboards commands the way the CLI does: a fresh client and session per run."""

    def __init__(self, metabase: MetabaseStandIn, state_dir: Path) -> None:
        self.metabase = metabase
        self.credentials_file = state_dir / ADMIN_FILE_NAME

    def session(self) -> tuple[MetabaseClient, AdminSession]:
        client = MetabaseClient(self.metabase.url)
        return client, open_admin_session(client, self.credentials_file, site_name="wikistream")

    def apply(
        self,
        definitions: DefinitionFile,
        reader: ReaderConnection = METABASE_SIDE_READER,
        update_database_password: bool = False,
    ) -> ApplyReport:
        client, _ = self.session()
        with client:
            return apply_definitions(client, definitions, reader, "wikistream", update_database_password)
