"""The embedded stack as a whole: bring it up in order, stop it, report on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from stack.credentials import ADMIN_USER, WRITER_USER, Credentials, load_or_create
from stack.flink import FlinkCluster, FlinkMemory
from stack.jars import resolve_jars
from stack.kafka import EmbeddedKafka
from stack.layout import Layout
from stack.postgres import EmbeddedPostgres
from stack.preflight import PrerequisiteError, check_java, check_ports_free, check_python
from stack.process import ManagedProcess
from stack.row_counts import count_rows
from wikistream.settings import REPO_ROOT, StackSettings

@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    detail: str = ""


class Progress:
    """Numbered steps with timings, so a long start-up shows what it is doing."""

    def __init__(self, total: int, echo: Callable[[str], None] = print) -> None:
        self.total = total
        self.done = 0
        self.echo = echo

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.done += 1
        started = time.monotonic()
        self.echo(f"[{self.done}/{self.total}] {title} ...")
        yield
        self.echo(f"      done in {time.monotonic() - started:.1f} s")


class EmbeddedStack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.layout = Layout(settings.state_path)
        self._credentials: Credentials | None = None
        self.kafka = EmbeddedKafka(self.layout, settings.kafka_port, settings.kafka_controller_port, settings.kafka_heap)
        memory = FlinkMemory(
            settings.flink_jobmanager_memory, settings.flink_taskmanager_memory, settings.flink_managed_memory_fraction
        )
        self.flink = FlinkCluster(
            self.layout, settings.flink_rest_port, settings.flink_rpc_port, settings.flink_task_slots, memory
        )
        self.producer = ManagedProcess("producer", self.layout.run_dir, self.layout.log_dir)

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = load_or_create(self.layout.secrets_file)
        return self._credentials

    @property
    def postgres(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.layout, self.settings.postgres_port, self.settings.postgres_db, self.credentials)

    # --- environment handed to the producer and the job ------------------------------------
    def _postgres_env(self, user: str, password: str) -> dict[str, str]:
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.settings.postgres_port),
            "POSTGRES_DB": self.settings.postgres_db,
            "POSTGRES_USER": user,
            "POSTGRES_PASSWORD": password,
        }

    def producer_env(self) -> dict[str, str]:
        """The environment of a producer process: this stack's Kafka and its PostgreSQL as owner."""
        return self._component_env() | self._postgres_env(ADMIN_USER, self.credentials.admin_password)

    def _component_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
                "KAFKA_TOPIC": self.settings.kafka_topic,
                "WIKISTREAM_STATE_DIR": str(self.layout.root),
                "PYTHONPATH": str(REPO_ROOT),
            }
        )
        return env

    def job_env(self) -> dict[str, str]:
        return {
            "FLINK_JOB_NAME": self.settings.flink_job_name,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            "KAFKA_TOPIC": self.settings.kafka_topic,
            "POSTGRES_JDBC_URL": f"jdbc:postgresql://127.0.0.1:{self.settings.postgres_port}/{self.settings.postgres_db}",
            "POSTGRES_WRITER_USER": WRITER_USER,
            "POSTGRES_WRITER_PASSWORD": self.credentials.writer_password,
            "JOB_PARALLELISM": str(self.settings.flink_task_slots),
        }

    # --- lifecycle ---------------------------------------------------------------------------
    def _preflight(self) -> None:
        check_python()
        check_java()
        ports = {
            "postgres_port": (self.settings.postgres_port, self.postgres.process),
            "kafka_port": (self.settings.kafka_port, self.kafka.process),
            "kafka_controller_port": (self.settings.kafka_controller_port, self.kafka.process),
            "flink_rest_port": (self.settings.flink_rest_port, self.flink.jobmanager),
            "flink_rpc_port": (self.settings.flink_rpc_port, self.flink.jobmanager),
        }
        # Ports held by our own running services are expected; any other holder is an error.
        check_ports_free({name: port for name, (port, owner) in ports.items() if not owner.is_running()})

    def start_services(self, progress: Progress) -> None:
        """PostgreSQL, Kafka and Flink up, schema applied, topic created, users seeded."""
        with progress.step("Checking prerequisites (Python, Java, free ports)"):
            self._preflight()
        with progress.step("Resolving jars from Maven Central (first run only)"):
            resolve_jars(self.settings, self.layout.tools_dir)
        with progress.step("Starting PostgreSQL and applying sql/"):
            postgres = self.postgres
            postgres.start()
            applied = postgres.apply_schema()
            progress.echo(f"      schema files: {', '.join(applied)}")
        with progress.step("Starting Kafka (KRaft) and creating the topic"):
            self.kafka.start()
            created = self.kafka.ensure_topic(self.settings.kafka_topic, self.settings.kafka_topic_partitions)
            progress.echo(f"      topic '{self.settings.kafka_topic}' {'created' if created else 'already exists'}")
        with progress.step(f"Seeding {self.settings.users_count} users"):
            self._seed_users()
        with progress.step("Starting Flink (JobManager + TaskManager)"):
            self.flink.start()

    def run(self, wait_rows_timeout: float = 180.0, echo: Callable[[str], None] = print) -> None:
        progress = Progress(9, echo)
        self.start_services(progress)
        with progress.step("Submitting the PyFlink job"):
            echo(f"      {self._ensure_job()}")
        with progress.step("Starting the producer in the background"):
            started = not self.producer.is_running()
            self._start_producer()
            echo(f"      producer {'started' if started else 'already running'} (pid {self.producer.pid()})")
        with progress.step("Waiting for rows to arrive in PostgreSQL"):
            echo(f"      clicks: {self._wait_for_rows(wait_rows_timeout)} rows and growing")

    def _seed_users(self) -> None:
        env = self.producer_env()
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "producer", "seed-users", "--count", str(self.settings.users_count)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        log = self.layout.log_dir / "seed-users.log"
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise PrerequisiteError(f"seeding users failed: see {log}")

    def _ensure_job(self) -> str:
        name = self.settings.flink_job_name
        found = self.flink.find_job(name)
        if found is not None and found[1] in ("RUNNING", "CREATED", "INITIALIZING", "RESTARTING"):
            job_id, message = found[0], f"job {found[0]} already {found[1]}"
        else:
            restore = self.flink.latest_restore_point()
            job_id = self.flink.submit(self.job_env(), restore)
            message = f"job {job_id} submitted" + (f", resuming from {restore}" if restore else "")
        self.wait_until_running(job_id)
        return message + ", RUNNING"

    def wait_until_running(self, job_id: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.flink.job_running(job_id):
            failure = self.flink.job_failure(job_id)
            if time.monotonic() > deadline:
                raise PrerequisiteError(f"the Flink job is not RUNNING after {timeout:.0f} s: {failure or 'no error reported'}")
            time.sleep(1)

    def _start_producer(self) -> None:
        env = self.producer_env()
        self.producer.start(
            [sys.executable, "-m", "producer", "run", "--rate", str(self.settings.producer_rate)],
            env=env,
            cwd=REPO_ROOT,
        )

    def _wait_for_rows(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        first: int | None = None
        while time.monotonic() < deadline:
            if not self.producer.is_running():
                raise PrerequisiteError(f"the producer exited: see {self.producer.log_file}")
            count = self.count_rows().get("clicks", 0)
            if first is None:
                first = count
            elif count > first:
                return count
            time.sleep(1)
        raise PrerequisiteError(f"no new rows reached the clicks table within {timeout:.0f} s: see {self.layout.log_dir}")

    def stop(self, echo: Callable[[str], None] = print) -> None:
        if self.producer.stop(timeout=30):
            echo("producer stopped")
        found = self.flink.find_job(self.settings.flink_job_name) if self.flink.jobmanager.is_running() else None
        if found is not None and found[1] == "RUNNING":
            savepoint = self.flink.stop_with_savepoint(found[0])
            echo(f"job stopped with savepoint {savepoint}" if savepoint else "job stop: no savepoint (resumes from the last checkpoint)")
        if self.flink.stop():
            echo("flink stopped")
        if self.kafka.stop():
            echo("kafka stopped")
        if self.postgres.stop():
            echo("postgres stopped")

    def reset(self) -> None:
        self.stop(echo=lambda _: None)
        shutil.rmtree(self.layout.root, ignore_errors=True)

    def status(self) -> list[ServiceStatus]:
        services = [
            ServiceStatus("postgres", self.postgres.process.pid(), f"127.0.0.1:{self.settings.postgres_port}"),
            ServiceStatus("kafka", self.kafka.process.pid(), self.kafka.bootstrap),
            ServiceStatus("flink-jobmanager", self.flink.jobmanager.pid(), self.flink.rest_url),
            ServiceStatus("flink-taskmanager", self.flink.taskmanager.pid()),
            ServiceStatus("producer", self.producer.pid()),
        ]
        job = self.flink.find_job(self.settings.flink_job_name) if self.flink.jobmanager.is_running() else None
        services.append(ServiceStatus("flink-job", None, f"{job[1]} ({job[0]})" if job else "not running"))
        return services

    def count_rows(self) -> dict[str, int]:
        return count_rows(
            host="127.0.0.1",
            port=self.settings.postgres_port,
            dbname=self.settings.postgres_db,
            user=ADMIN_USER,
            password=self.credentials.admin_password,
            hint="is the stack up? Try 'make run'.",
        )
