"""The embedded stack as a whole: bring it up in order under its supervisor, stop it, report on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dashboards.metabase_client import MetabaseClient, MetabaseUnreachable
from stack import state_dir
from stack.flink import FlinkCluster, FlinkMemory
from stack.jars import resolve_jars
from stack.kafka import EmbeddedKafka
from stack.metabase import Metabase, MetabaseLaunch, MetabaseRelease, find_java
from stack.postgres import EmbeddedPostgres
from stack.preflight import PrerequisiteError, check_java, check_ports_free, check_python
from stack.process import ManagedProcess, RunAs
from stack.row_counts import count_rows
from stack.supervision import METABASE, PROGRAMS, RUNNING_STATES, Program, Supervisor
from wikistream.credentials import Credentials, load_or_create, stored_password
from wikistream.flink_rest import FlinkRest, FlinkRestError
from wikistream.health import HealthThresholds, PipelineHealth, observe
from wikistream.job_keeper import KeeperLog
from wikistream.layout import Layout
from wikistream.postgres import ADMIN_USER, SEEDER_USER, WRITER_USER, jdbc_url, libpq_dsn
from wikistream.settings import REPO_ROOT, StackSettings, cache_dir


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    # supervisord's state of the program (RUNNING, BACKOFF, FATAL, ...), None without supervisord.
    supervised: str | None
    detail: str = ""


@dataclass(frozen=True)
class Launch:
    """How a service is exec'd by stack.launch."""

    argv: list[str]
    env: dict[str, str]
    run_as: RunAs | None = None


class Progress:
    """Numbered steps with timings, so a long start-up shows what it is doing.

    The total is announced up front ("[3/10]"), so it is checked: a step past it, or finish() short
    of it, is an error (every `make run` in the tests would show a miscount).
    """

    def __init__(self, total: int, echo: Callable[[str], None] = print) -> None:
        self.total = total
        self.done = 0
        self.echo = echo

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.done += 1
        if self.done > self.total:
            raise RuntimeError(f"step {self.done} ({title}) is past the {self.total} steps announced")
        started = time.monotonic()
        self.echo(f"[{self.done}/{self.total}] {title} ...")
        yield
        self.echo(f"      done in {time.monotonic() - started:.1f} s")

    def finish(self) -> None:
        if self.done != self.total:
            raise RuntimeError(f"{self.done} steps ran of the {self.total} announced")


class EmbeddedStack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.layout = Layout(settings.state_path)
        self._credentials: Credentials | None = None
        self.kafka = EmbeddedKafka(
            self.layout,
            settings.kafka_port,
            settings.kafka_controller_port,
            settings.kafka_heap,
            settings.kafka_retention_properties(),
        )
        memory = FlinkMemory(
            settings.flink_jobmanager_memory, settings.flink_taskmanager_memory, settings.flink_managed_memory_fraction
        )
        self.flink = FlinkCluster(
            self.layout, settings.flink_rest_port, settings.flink_rpc_port, settings.flink_task_slots, memory
        )
        self.supervisor = Supervisor(self.layout)
        self.producer = ManagedProcess("producer", self.layout.run_dir, self.layout.log_dir)
        self.keeper = ManagedProcess("job-keeper", self.layout.run_dir, self.layout.log_dir)
        self.metabase = Metabase(self.layout, settings)
        self.metabase_process = ManagedProcess(METABASE.name, self.layout.run_dir, self.layout.log_dir)
        self.keeper_log_file = self.layout.run_dir / "job-keeper.json"
        self.producer_journal = self.layout.root / "producer" / "journal.json"

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = load_or_create(self.layout.secrets_file)
        return self._credentials

    @property
    def postgres(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(
            self.layout,
            self.settings.postgres_port,
            self.settings.postgres_db,
            self.credentials,
            self.settings.wikistream_root_runtime_dir,
        )

    def processes(self) -> dict[str, ManagedProcess]:
        """Every supervised service by its program name, each known by its pid file."""
        by_name = {
            "postgres": ManagedProcess("postgres", self.layout.run_dir, self.layout.log_dir),
            "kafka": self.kafka.process,
            "flink-jobmanager": self.flink.jobmanager,
            "flink-taskmanager": self.flink.taskmanager,
            "job-keeper": self.keeper,
            "producer": self.producer,
        }
        return {program.name: by_name[program.name] for program in PROGRAMS}

    def all_processes(self) -> dict[str, ManagedProcess]:
        """The pipeline's services and Metabase, which is not part of the pipeline."""
        return self.processes() | {METABASE.name: self.metabase_process}

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
        """The environment of a producer process: this stack's Kafka, and its PostgreSQL as the seeder."""
        return self._component_env() | self._postgres_env(SEEDER_USER, self.credentials.seeder_password)

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

    @property
    def postgres_jdbc_url(self) -> str:
        return jdbc_url("127.0.0.1", self.settings.postgres_port, self.settings.postgres_db)

    def job_env(self) -> dict[str, str]:
        return {
            "FLINK_JOB_NAME": self.settings.flink_job_name,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            "KAFKA_TOPIC": self.settings.kafka_topic,
            "KAFKA_GROUP_ID": self.settings.kafka_group_id,
            "POSTGRES_JDBC_URL": self.postgres_jdbc_url,
            "POSTGRES_WRITER_USER": WRITER_USER,
            "POSTGRES_WRITER_PASSWORD": self.credentials.writer_password,
            "JOB_PARALLELISM": str(self.settings.flink_task_slots),
        }

    def writer_dsn(self, password: str | None = None, connect_timeout: int = 5) -> str:
        return libpq_dsn(
            host="127.0.0.1",
            port=self.settings.postgres_port,
            dbname=self.settings.postgres_db,
            user=WRITER_USER,
            password=self.credentials.writer_password if password is None else password,
            connect_timeout=connect_timeout,
        )

    # --- how each service is started (python -m stack.launch NAME) ---------------------------
    def launch(self, name: str) -> Launch:
        """Prepare a service for a start (configuration, storage) and say how to exec it."""
        if name == "postgres":
            postgres = self.postgres
            postgres.prepare()
            return Launch(postgres.command(), dict(os.environ), postgres.run_as)
        if name == "kafka":
            self.kafka.prepare()
            return Launch(self.kafka.command(), dict(os.environ))
        if name in ("flink-jobmanager", "flink-taskmanager"):
            self.flink.write_config()
            return Launch(self.flink.command(name.removeprefix("flink-")), self.flink.env())
        if name == "job-keeper":
            return Launch([sys.executable, "-m", "stack.keeper"], self._component_env())
        if name == METABASE.name:
            return Launch(self.metabase.command(), self.metabase.env(dict(os.environ)))
        if name == "producer":
            # With a journal: a producer killed mid-run resumes the same run, losing and repeating nothing.
            command = [
                sys.executable,
                "-m",
                "producer",
                "run",
                "--rate",
                str(self.settings.producer_rate),
                "--journal",
                str(self.producer_journal),
            ]
            return Launch(command, self.producer_env())
        raise PrerequisiteError(f"unknown service '{name}' (one of {', '.join(self.processes())})")

    # --- lifecycle ---------------------------------------------------------------------------
    def _preflight(self) -> None:
        check_python()
        check_java()
        state_dir.create_private(self.layout.root)
        postgres_inside = self.postgres.run_as is not None and self.postgres.home.home == self.layout.postgres_dir
        state_dir.close(self.layout.root, others_pass_through=postgres_inside)
        processes = self.processes()
        ports = {
            "postgres_port": (self.settings.postgres_port, processes["postgres"]),
            "kafka_port": (self.settings.kafka_port, processes["kafka"]),
            "kafka_controller_port": (self.settings.kafka_controller_port, processes["kafka"]),
            "flink_rest_port": (self.settings.flink_rest_port, processes["flink-jobmanager"]),
            "flink_rpc_port": (self.settings.flink_rpc_port, processes["flink-jobmanager"]),
        }
        # Ports held by our own running services are expected; any other holder is an error.
        check_ports_free({name: port for name, (port, owner) in ports.items() if not owner.is_running()})

    def _start_program(self, name: str, ready: Callable[[Callable[[], bool]], None]) -> None:
        """Start one supervised program and wait until `ready` returns (it gets an is-alive probe)."""
        self.supervisor.start_program(name)

        def alive() -> bool:
            # A start that fails is retried by supervisord; only FATAL (it gave up) ends the wait.
            return self.supervisor.state(name) != "FATAL"

        try:
            ready(alive)
        except PrerequisiteError as error:
            raise PrerequisiteError(f"{error} (log: {self.processes()[name].log_file})") from error

    def _adopt_orphans(self, echo: Callable[[str], None]) -> None:
        """Services alive without their supervisor (it was killed): stop them, so it can start them again."""
        if self.supervisor.is_running():
            return
        orphans = [name for name, process in self.all_processes().items() if process.is_running()]
        if orphans:
            echo(f"      the supervisor was not running but {', '.join(orphans)} were: restarting them supervised")
            self.stop(echo=lambda line: echo(f"      {line}"))

    def start_services(self, progress: Progress) -> None:
        """PostgreSQL, Kafka and Flink up under the supervisor, schema applied, topic created, users seeded."""
        with progress.step("Checking prerequisites (Python, Java, free ports)"):
            self._preflight()
        with progress.step("Resolving jars from Maven Central (first run only)"):
            resolve_jars(self.settings, self.layout.tools_dir)
        with progress.step("Starting the supervisor (restarts any service that dies)"):
            self._adopt_orphans(progress.echo)
            # The services read their settings from the environment: this stack's, whoever started it.
            self.supervisor.start(dict(os.environ) | self.settings.as_env())
        with progress.step("Starting PostgreSQL and applying sql/"):
            postgres = self.postgres
            self._start_program("postgres", lambda alive: postgres.wait_ready(60, alive))
            applied = postgres.apply_schema()
            progress.echo(f"      schema files: {', '.join(applied)}")
        with progress.step("Starting Kafka (KRaft) and creating the topic"):
            self._start_program("kafka", lambda alive: self.kafka.wait_ready(90, alive))
            created = self.kafka.ensure_topic(self.settings.kafka_topic, self.settings.kafka_topic_partitions)
            progress.echo(f"      topic '{self.settings.kafka_topic}' {'created' if created else 'already exists'}")
        with progress.step(f"Seeding {self.settings.users_count} users"):
            self._seed_users()
        with progress.step("Starting Flink (JobManager + TaskManager)"):
            self.supervisor.start_program("flink-jobmanager")
            self._start_program("flink-taskmanager", lambda alive: self.flink.wait_ready(120, alive))

    def run(self, wait_rows_timeout: float = 180.0, echo: Callable[[str], None] = print) -> None:
        progress = Progress(10, echo)
        self.start_services(progress)
        with progress.step("Starting the job keeper (submits the PyFlink job, resubmits it if it is lost)"):
            echo(f"      {self._start_keeper()}")
        with progress.step("Starting the producer in the background"):
            started = not self.producer.is_running()
            self._start_program("producer", lambda alive: self._wait_pid(self.producer, alive))
            echo(f"      producer {'started' if started else 'already running'} (pid {self.producer.pid()})")
        with progress.step("Waiting for rows to arrive in PostgreSQL"):
            echo(f"      clicks: {self._wait_for_rows(wait_rows_timeout)} rows and growing")
        progress.finish()
        if MetabaseLaunch.load(self.layout) is not None:
            # Set up by an earlier `make metabase`: back with the stack, without waiting for it.
            self.supervisor.ensure_program(METABASE.name)
            self.supervisor.start_program(METABASE.name)
            echo(f"Metabase starting at {self.metabase.url} (log: {self.metabase_process.log_file})")

    def start_metabase(self, echo: Callable[[str], None] = print, health_timeout: float = 600.0) -> str:
        """`make metabase`: the checked jar, Java 21+, its database, supervised, dashboards applied; its URL."""
        progress = Progress(5, echo)
        running = self.metabase_process.is_running()
        with progress.step("Checking Java 21+ and the Metabase port"):
            java = find_java()
            if not running:
                check_ports_free({"metabase_port": self.settings.metabase_port})
            echo(f"      {java}")
        release = MetabaseRelease.of(self.settings)
        with progress.step(f"Metabase {release.version}: the jar, downloaded once and checked (SHA-256)"):
            jar = release.download(cache_dir())
            echo(f"      {jar}")
        with progress.step("Its application database in the embedded PostgreSQL"):
            if not (self.supervisor.is_running() and self.processes()["postgres"].is_running()):
                raise PrerequisiteError("the embedded stack is not running: start it with 'make run' first")
            self.metabase.ensure_app_database(self.postgres)
            MetabaseLaunch(java, str(jar)).save(self.layout)
        with progress.step("Starting Metabase under the supervisor (its first start takes a few minutes)"):
            self.supervisor.ensure_program(METABASE.name)
            self.supervisor.start_program(METABASE.name)

            def starting() -> bool:
                # Metabase does not exit while it initialises: the first exit ends the wait (supervisord's
                # 100 retries would make a broken setup wait the whole timeout).
                return self.supervisor.state(METABASE.name) in ("STARTING", "RUNNING")

            try:
                with MetabaseClient(self.metabase.url, timeout=5) as client:
                    client.wait_until_healthy(
                        health_timeout,
                        poll_interval=1.0,
                        alive=starting,
                        on_state=lambda state: progress.echo(f"      Metabase: {state}"),
                    )
            except MetabaseUnreachable as error:
                self.supervisor.stop_program(METABASE.name)
                raise PrerequisiteError(f"{error} (log: {self.metabase_process.log_file})") from error
        with progress.step("Applying the dashboards (dashboards/definitions)"):
            self._apply_dashboards()
        progress.finish()
        return self.metabase.url

    def _apply_dashboards(self) -> None:
        env = self._component_env() | {
            "METABASE_URL": self.metabase.url,
            "METABASE_DB_HOST": "127.0.0.1",
            "METABASE_DB_PORT": str(self.settings.postgres_port),
            "POSTGRES_READER_PASSWORD": self.credentials.reader_password,
        }
        result = subprocess.run(
            [sys.executable, "-m", "dashboards", "apply"], env=env, cwd=REPO_ROOT, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise PrerequisiteError(f"applying the dashboards failed: {(result.stderr or result.stdout).strip()}")

    @staticmethod
    def _wait_pid(process: ManagedProcess, alive: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while process.pid() is None:
            if not alive() or time.monotonic() > deadline:
                raise PrerequisiteError(f"{process.name} did not start: see {process.log_file}")
            time.sleep(0.2)

    def _seed_users(self) -> None:
        env = self.producer_env()
        result = subprocess.run(
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

    def _start_keeper(self, timeout: float = 300.0) -> str:
        """Start the keeper, wait until it has the job RUNNING; says whether it was restored and from what."""
        already = self.flink.rest.live_jobs(self.settings.flink_job_name)
        self.supervisor.start_program("job-keeper")
        deadline = time.monotonic() + timeout
        while True:
            live = self.flink.rest.live_jobs(self.settings.flink_job_name)
            if live and self.flink.rest.all_tasks_running(live[0].job_id):
                break
            if self.supervisor.state("job-keeper") == "FATAL" or time.monotonic() > deadline:
                failure = next(iter(self.flink.rest.exceptions(live[0].job_id)), None) if live else None
                raise PrerequisiteError(
                    f"the Flink job is not RUNNING after {timeout:.0f} s"
                    f" ({failure.summary if failure else 'no error reported'}): see {self.keeper.log_file}"
                    "\nIf the job's SQL changed since its last savepoint, 'make reset' starts afresh."
                )
            time.sleep(1)
        job_id = live[0].job_id
        if already and already[0].job_id == job_id:
            return f"job {job_id} already RUNNING"
        restored = self.flink.rest.restored_from(job_id)
        return f"job {job_id} RUNNING, " + (f"resumed from {restored}" if restored else "started without state")

    def _wait_for_rows(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        first: int | None = None
        while time.monotonic() < deadline:
            if self.supervisor.state("producer") not in RUNNING_STATES:
                raise PrerequisiteError(f"the producer is not running: see {self.producer.log_file}")
            count = self.count_rows().get("clicks", 0)
            if first is None:
                first = count
            elif count > first:
                return count
            time.sleep(1)
        raise PrerequisiteError(
            f"no new rows reached the clicks table within {timeout:.0f} s: see {self.layout.log_dir}"
        )

    def stop_service(self, name: str) -> bool:
        """Stop one supervised service (it stays stopped until `start_service` or `make run`)."""
        return self.supervisor.stop_program(name)

    def start_service(self, name: str) -> None:
        self.supervisor.start_program(name)

    def _savepoint(self, echo: Callable[[str], None]) -> None:
        if not self.flink.rest.reachable():
            return
        for job in self.flink.rest.live_jobs(self.settings.flink_job_name):
            if job.state != "RUNNING":
                continue
            try:
                location = self.flink.rest.stop_with_savepoint(job.job_id, self.layout.savepoints_dir.as_uri())
                echo(f"job {job.job_id} stopped with savepoint {location}")
            except FlinkRestError as error:
                echo(f"job {job.job_id}: {error}; it resumes from its last checkpoint")

    def stop(self, echo: Callable[[str], None] = print) -> None:
        """Stop every service (first Metabase, the producer and the keeper, then the job with a savepoint), by pid."""
        processes = self.all_processes()
        supervised = self.supervisor.is_running()

        def stop_one(program: Program) -> None:
            stopped = supervised and self.supervisor.stop_program(program.name)
            # Without supervisord (it was killed), or whatever it did not stop: by pid file.
            if processes[program.name].stop(timeout=program.stopwaitsecs) or stopped:
                echo(f"{program.name} stopped")

        programs = {program.name: program for program in PROGRAMS}
        stop_one(METABASE)
        for name in ("producer", "job-keeper"):
            stop_one(programs[name])
        self._savepoint(echo)
        for name in ("flink-taskmanager", "flink-jobmanager", "kafka", "postgres"):
            stop_one(programs[name])
        if self.supervisor.shutdown():
            echo("supervisor stopped")

    def reset(self) -> None:
        self.stop(echo=lambda _: None)
        self.postgres.remove_data()
        shutil.rmtree(self.layout.root, ignore_errors=True)

    def status(self) -> list[ServiceStatus]:
        states = self.supervisor.states()
        details = {
            "postgres": f"127.0.0.1:{self.settings.postgres_port}",
            "kafka": self.kafka.bootstrap,
            "flink-jobmanager": self.flink.rest_url,
        }
        services = [ServiceStatus("supervisor", self.supervisor.process.pid(), None)]
        for name, process in self.processes().items():
            services.append(ServiceStatus(name, process.pid(), states.get(name), details.get(name, "")))
        if self.metabase_process.is_running() or MetabaseLaunch.load(self.layout) is not None:
            services.append(
                ServiceStatus(METABASE.name, self.metabase_process.pid(), states.get(METABASE.name), self.metabase.url)
            )
        return services

    def started(self) -> bool:
        """True when any service of the stack is up (it has been started and not stopped)."""
        return any(service.pid for service in self.status())

    def health(self, services: list[ServiceStatus]) -> PipelineHealth:
        """The pipeline's health; a service that is down, or restarting (supervisord has not yet seen it
        stay up for its startsecs), counts against it, as does a missing supervisor."""
        pipeline = [s for s in services if s.name != METABASE.name]
        down = [s.name for s in pipeline if s.pid is None or s.supervised not in (None, "RUNNING")]
        # Never generated here: a password made up now would not be the server's.
        dsn = self.writer_dsn(stored_password(self.layout.secrets_file, "POSTGRES_WRITER_PASSWORD") or "", 3)
        resubmitted = KeeperLog.load(self.keeper_log_file).resubmissions_since(time.time() - 600)
        return observe(
            # Its own client: the keeper's health thread calls this beside the keeper's loop.
            FlinkRest(self.flink.rest_url),
            self.settings.flink_job_name,
            kafka_bootstrap=self.kafka.bootstrap,
            topic=self.settings.kafka_topic,
            group=self.settings.kafka_group_id,
            postgres_dsn=dsn,
            thresholds=HealthThresholds(),
            resubmissions_10m=resubmitted,
            services_down=down,
            # Stopped on request (`python -m stack service stop producer`): its silence is expected.
            producer_expected=next(s.supervised for s in pipeline if s.name == "producer") != "STOPPED",
            # Where the stack's data lies: the state directory, and PostgreSQL's elsewhere as root.
            data_paths=[self.layout.root, self.settings.wikistream_root_runtime_dir],
        )

    def count_rows(self) -> dict[str, int]:
        return count_rows(
            host="127.0.0.1",
            port=self.settings.postgres_port,
            dbname=self.settings.postgres_db,
            user=ADMIN_USER,
            # Never generated here: a password made up now would not be the server's.
            password=stored_password(self.layout.secrets_file, "POSTGRES_ADMIN_PASSWORD") or "",
            hint="is the stack up? Try 'make run'.",
        )
