"""Metabase on the embedded stack (`make metabase`): the pinned jar, Java 21+, its own database.

The jar is downloaded once into the cache (WIKISTREAM_CACHE/metabase/<version>/metabase.jar),
resumably, and checked against METABASE_JAR_SHA256. Metabase runs as the supervised program
`metabase`, bound to 127.0.0.1, with its application database as a database and role of its own
in the embedded PostgreSQL (the role cannot connect to the analytics database). What it runs with
(the java binary, the jar) is recorded in the state directory, so `make run` brings it back after
`make stop`; `make reset` removes it with the state directory and the PostgreSQL data.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from psycopg2 import sql

from stack.postgres import EmbeddedPostgres
from stack.preflight import PrerequisiteError, java_major_version
from wikistream.credentials import load_or_create_secrets
from wikistream.download import Checksum, DownloadError, ResumableDownloader
from wikistream.layout import Layout
from wikistream.postgres import METABASE_APP_DB, METABASE_APP_USER, set_login_password
from wikistream.settings import StackSettings

MIN_JAVA = 21
# The documented way to point at a Java 21+ that is neither JAVA_HOME nor on PATH.
JAVA_HOME_VARIABLE = "METABASE_JAVA_HOME"
_SECRET_KEYS = ("METABASE_DB_PASSWORD", "METABASE_ENCRYPTION_SECRET_KEY")


@dataclass(frozen=True)
class MetabaseRelease:
    version: str
    sha256: str
    base_url: str

    @classmethod
    def of(cls, settings: StackSettings) -> MetabaseRelease:
        return cls(settings.metabase_version, settings.metabase_jar_sha256, settings.metabase_download_url)

    @property
    def url(self) -> str:
        # downloads.metabase.com's layout: /v<version>/metabase.jar
        return f"{self.base_url.rstrip('/')}/v{self.version}/metabase.jar"

    def cached_jar(self, cache_dir: Path) -> Path:
        return cache_dir / "metabase" / self.version / "metabase.jar"

    def download(self, cache_dir: Path, progress: bool = True) -> Path:
        checksum = Checksum("sha256", self.sha256, "METABASE_JAR_SHA256 (config/stack.env)")
        try:
            return ResumableDownloader(progress=progress).fetch(self.url, self.cached_jar(cache_dir), checksum)
        except DownloadError as error:
            raise PrerequisiteError(str(error)) from error


def find_java(env: dict[str, str] | None = None) -> str:
    """A java binary of version 21 or newer: METABASE_JAVA_HOME if set (and then only it), else JAVA_HOME, else PATH."""
    env = dict(os.environ) if env is None else env
    if env.get(JAVA_HOME_VARIABLE):
        candidates = [(JAVA_HOME_VARIABLE, str(Path(env[JAVA_HOME_VARIABLE]) / "bin" / "java"))]
    else:
        on_path = shutil.which("java", path=env.get("PATH"))
        candidates = [("JAVA_HOME", str(Path(env["JAVA_HOME"]) / "bin" / "java"))] if env.get("JAVA_HOME") else []
        candidates += [("PATH", on_path)] if on_path else []
    found = []
    for origin, java in candidates:
        if not os.access(java, os.X_OK):
            found.append(f"no java in {origin} ({java})")
            continue
        major = java_major_version(java)
        if major >= MIN_JAVA:
            return java
        found.append(f"Java {major} from {origin} ({java})")
    raise PrerequisiteError(
        f"Metabase needs Java {MIN_JAVA} or newer, found {'; '.join(found) or 'no java at all'}: install one "
        f"(Debian: apt-get install openjdk-21-jre-headless) and set {JAVA_HOME_VARIABLE} to its home."
    )


@dataclass(frozen=True)
class MetabaseLaunch:
    """What `make metabase` chose, for the supervised program to start with (and restart after make run)."""

    java: str
    jar: str

    @staticmethod
    def path(layout: Layout) -> Path:
        return layout.root / "metabase" / "launch.json"

    def save(self, layout: Layout) -> None:
        path = self.path(layout)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, layout: Layout) -> MetabaseLaunch | None:
        path = cls.path(layout)
        return cls(**json.loads(path.read_text())) if path.exists() else None


class Metabase:
    def __init__(self, layout: Layout, settings: StackSettings) -> None:
        self.layout = layout
        self.settings = settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.metabase_port}"

    def secrets(self) -> dict[str, str]:
        return load_or_create_secrets(self.layout.secrets_file, _SECRET_KEYS)

    def ensure_app_database(self, postgres: EmbeddedPostgres) -> None:
        """Metabase's own role and database (idempotent); the password follows secrets.env."""
        password = self.secrets()["METABASE_DB_PASSWORD"]
        role, database = sql.Identifier(METABASE_APP_USER), sql.Identifier(METABASE_APP_DB)
        conn = postgres.admin_connect("postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (METABASE_APP_USER,))
                set_login_password(cur, METABASE_APP_USER, password, create=cur.fetchone() is None)
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (METABASE_APP_DB,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
                cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        finally:
            conn.close()

    def env(self, base: dict[str, str]) -> dict[str, str]:
        secrets = self.secrets()
        return base | {
            "MB_JETTY_HOST": "127.0.0.1",
            "MB_JETTY_PORT": str(self.settings.metabase_port),
            "MB_DB_TYPE": "postgres",
            "MB_DB_HOST": "127.0.0.1",
            "MB_DB_PORT": str(self.settings.postgres_port),
            "MB_DB_DBNAME": METABASE_APP_DB,
            "MB_DB_USER": METABASE_APP_USER,
            "MB_DB_PASS": secrets["METABASE_DB_PASSWORD"],
            # Connection details Metabase stores (the reader's password) are encrypted with it.
            "MB_ENCRYPTION_SECRET_KEY": secrets["METABASE_ENCRYPTION_SECRET_KEY"],
            "MB_CHECK_FOR_UPDATES": "false",
            "MB_ANON_TRACKING_ENABLED": "false",
        }

    def command(self) -> list[str]:
        launch = MetabaseLaunch.load(self.layout)
        if launch is None:
            raise PrerequisiteError("Metabase was never set up on this stack: run 'make metabase'")
        heap = self.settings.metabase_heap
        return [launch.java, f"-Xms{heap}", f"-Xmx{heap}", "-Djava.awt.headless=true", "-jar", launch.jar]
