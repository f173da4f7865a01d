"""Shared fixtures: a real PostgreSQL for storage tests, and a whole isolated stack for end-to-end tests.

Both live in their own temporary state directory on free ports, so they never collide with a
stack started by `make run`, and both are stopped (by pid) even when a test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import pytest
from kafka import KafkaProducer
from psycopg2 import sql

from stack.embedded import EmbeddedStack
from stack.kafka import EmbeddedKafka
from stack.postgres import EmbeddedPostgres
from stack.preflight import free_port
from stack.process import ManagedProcess
from tests.squatter import Squatter
from wikistream.credentials import load_or_create
from wikistream.events import ClickEvent
from wikistream.health import PipelineHealth
from wikistream.layout import Layout
from wikistream.postgres import ADMIN_USER, libpq_dsn
from wikistream.schema import bootstrap
from wikistream.settings import REPO_ROOT, StackSettings, stack_settings


def scratch_dir() -> str:
    """Where tests make their temporary directories: WIKISTREAM_TEST_TMP, default /tmp."""
    return os.environ.get("WIKISTREAM_TEST_TMP", "/tmp")


def _world_readable_tempdir(prefix: str, under: Path | None = None) -> Path:
    # When tests run as root, PostgreSQL runs as 'nobody', which must be able to enter the directory.
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=under or scratch_dir()))
    path.chmod(0o755)
    return path


# Fixtures that start a real service. A test using one, directly or through another fixture, is
# marked slow here, so `-m "not slow"` never starts a service, whatever its author remembered.
SERVICE_FIXTURES = frozenset({"postgres_server", "embedded_kafka", "running_stack", "applied_stack"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    root = _world_readable_tempdir("wikistream-pg-")
    layout = Layout(root)
    server = EmbeddedPostgres(layout, free_port(), "postgres", load_or_create(layout.secrets_file))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def schema_database(postgres_server: EmbeddedPostgres, prefix: str) -> Iterator[tuple[str, str]]:
    """(name, admin DSN) of a fresh database of postgres_server with sql/ applied; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    bootstrap(
        postgres_server.admin_connect, name, postgres_server.credentials.role_passwords(), stack_settings().retention()
    )
    admin = postgres_server.admin_connect("postgres")
    admin.autocommit = True
    dsn = libpq_dsn(
        host="127.0.0.1",
        port=postgres_server.port,
        dbname=name,
        user=ADMIN_USER,
        password=postgres_server.credentials.admin_password,
    )
    try:
        yield name, dsn
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture()
def postgres_dsn(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """A libpq DSN of a fresh database with sql/ applied, dropped after the test."""
    with schema_database(postgres_server, "test") as (_, dsn):
        yield dsn


@pytest.fixture(scope="session")
def embedded_kafka() -> Iterator[EmbeddedKafka]:
    """A real single-node Kafka (KRaft) on free ports."""
    root = _world_readable_tempdir("wikistream-kafka-")
    settings = stack_settings()
    kafka = EmbeddedKafka(
        Layout(root), free_port(), free_port(), settings.kafka_heap, settings.kafka_retention_properties()
    )
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded_kafka: EmbeddedKafka) -> str:
    """Bootstrap servers of the shared test broker, for tests of Kafka clients."""
    return embedded_kafka.bootstrap


@dataclass(frozen=True)
class RunningStack:
    env: dict[str, str]
    state_dir: Path

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stack", *args],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def admin_dsn(self) -> str:
        credentials = load_or_create(Layout(self.state_dir).secrets_file)
        return libpq_dsn(
            host="127.0.0.1",
            port=int(self.env["POSTGRES_PORT"]),
            dbname=self.env["POSTGRES_DB"],
            user=ADMIN_USER,
            password=credentials.admin_password,
        )

    def query(self, statement: str, params: tuple | dict = ()) -> list[tuple]:
        """Rows as tuples; bytea values as bytes (psycopg2 gives memoryview, which does not compare)."""
        with closing(psycopg2.connect(self.admin_dsn())) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement, params or None)
                rows = cur.fetchall() if cur.description else []
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]

    def count(self, statement: str, params: tuple | dict = ()) -> int:
        return int(self.query(statement, params)[0][0])

    def send(
        self, messages: list[tuple[bytes | None, bytes, int | None]], partition: int | None = None
    ) -> list[tuple[int, int]]:
        """Send (key, value, timestamp ms) messages to the clicks topic; returns each one's (partition, offset)."""
        producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{self.env['KAFKA_PORT']}", acks="all")
        try:
            futures = [
                producer.send(self.env["KAFKA_TOPIC"], key=key, value=value, timestamp_ms=ts, partition=partition)
                for key, value, ts in messages
            ]
            producer.flush(timeout=30)
            return [(meta.partition, meta.offset) for meta in (future.get(timeout=30) for future in futures)]
        finally:
            producer.close()

    def send_events(self, events: list[ClickEvent], partition: int | None = None) -> list[tuple[int, int]]:
        return self.send(
            [(event.user_id.encode(), event.to_json(), event.event_time_ms) for event in events], partition
        )

    def embedded(self) -> EmbeddedStack:
        """This stack as the stack package sees it: its state directory and ports."""
        settings = StackSettings(  # type: ignore[call-arg]  # the rest comes from config/stack.env
            wikistream_state_dir=self.state_dir,
            **{
                key: int(self.env[key.upper()])
                for key in ("kafka_port", "kafka_controller_port", "flink_rest_port", "flink_rpc_port", "postgres_port")
            },
        )
        return EmbeddedStack(settings)

    def health(self) -> PipelineHealth:
        stack = self.embedded()
        return stack.health(stack.status())

    def wait_health(self, wanted: str | None, timeout_s: float) -> PipelineHealth:
        """Until a reason containing `wanted` shows (None: until no reason at all); the last health seen."""
        deadline = time.monotonic() + timeout_s
        while True:
            health = self.health()
            found = any(wanted in reason for reason in health.reasons) if wanted else not health.degraded
            if found or time.monotonic() > deadline:
                return health
            time.sleep(3)

    def pid(self, service: str) -> int | None:
        """The live pid of one service, from its pid file (None when it is down)."""
        return ManagedProcess(service, Layout(self.state_dir).run_dir, Layout(self.state_dir).log_dir).pid()

    def pids(self) -> list[int]:
        run_dir = Layout(self.state_dir).run_dir
        return [int(path.read_text().split()[0]) for path in run_dir.glob("*.pid")] if run_dir.exists() else []


def isolated_stack_env(state_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "WIKISTREAM_STATE_DIR": str(state_dir),
            "KAFKA_PORT": str(free_port()),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "FLINK_REST_PORT": str(free_port()),
            "FLINK_RPC_PORT": str(free_port()),
            "POSTGRES_PORT": str(free_port()),
            "METABASE_PORT": str(free_port()),
            "POSTGRES_DB": "wikistream",
            "KAFKA_TOPIC": "clicks",
            # Low, so the test's own events are not drowned in background traffic.
            "PRODUCER_RATE": "20",
        }
    )
    return env


@contextmanager
def isolated_stack(
    prefix: str, extra_env: dict[str, str] | None = None, under: Path | None = None
) -> Iterator[RunningStack]:
    """`python -m stack run` on its own state directory and free ports; stopped (by pid) afterwards.

    under: the directory holding all its data (default WIKISTREAM_TEST_TMP or /tmp).

    As root, the state directory lies in a 0700 directory, like a checkout in /root: PostgreSQL,
    run as 'nobody', then keeps its data under a runtime directory of the test's own
    (stack/postgres_home.py), so every end-to-end test runs in that mode too.
    """
    private = Path(tempfile.mkdtemp(prefix=prefix, dir=under or scratch_dir()))
    runtime = _world_readable_tempdir(f"{prefix}runtime-", under)
    state_dir = private / "state"
    env = isolated_stack_env(state_dir) | {"WIKISTREAM_ROOT_RUNTIME_DIR": str(runtime / "var")} | (extra_env or {})
    stack = RunningStack(env, state_dir)
    try:
        result = stack.cli("run")
        if result.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (state_dir / "logs").glob("*.log"))
            pytest.fail(f"stack run failed:\n{result.stdout}\n{result.stderr}\n{logs}")
        yield stack
    finally:
        stack.cli("reset")
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def serve() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Starts a handler class on 127.0.0.1 (a free port) in a thread; returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True  # a handler still sleeping must not hold up the teardown
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def running_stack() -> Iterator[RunningStack]:
    """One isolated stack shared by the tests that do not break it for the others."""
    with isolated_stack("wikistream-stack-") as stack:
        yield stack


@pytest.fixture()
def squatter() -> Iterator[Squatter]:
    """A fake PostgreSQL on a free port that asks for the password in clear text."""
    server = Squatter()
    try:
        yield server
    finally:
        server.close()
