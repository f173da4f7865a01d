"""The embedded stack's supervisor: supervisord (the `supervisor` package) restarts every service that dies.

supervisord runs as one more process of the stack (pid file `run/supervisord.pid`), with its
control socket in the state directory (mode 0700). Each service is a supervisor program whose
command is `python -m stack.launch NAME`: the launcher prepares the service, records its pid file and
execs it, so the pid file names the service itself. Programs never start on their own
(autostart=false): `make run` starts them in order, waiting for each to be ready; from then on
supervisord restarts whatever exits (autorestart), with back-off when a start fails quickly
(startsecs): one second longer after each failed start, never giving up (FATAL), so a service that
cannot start for hours (a full disk, a lost mount) is back within minutes of the cause going (after a
day of failing, about 7 minutes). `make stop` stops them through supervisord, which then restarts
nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from stack import state_dir
from stack.preflight import PrerequisiteError
from stack.process import ManagedProcess
from wikistream.layout import Layout
from wikistream.settings import REPO_ROOT

# Longest path a Unix socket may have (sun_path), with room to spare.
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class Program:
    name: str
    # Seconds a start must last to count as started (a quicker exit backs off before the next try).
    startsecs: int
    # Seconds between the stop signal and SIGKILL.
    stopwaitsecs: int
    stopsignal: str = "TERM"


# In start order; stopped in reverse.
PROGRAMS: tuple[Program, ...] = (
    # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
    Program("postgres", startsecs=2, stopwaitsecs=60, stopsignal="INT"),
    Program("kafka", startsecs=5, stopwaitsecs=60),
    Program("flink-jobmanager", startsecs=5, stopwaitsecs=30),
    Program("flink-taskmanager", startsecs=5, stopwaitsecs=30),
    Program("job-keeper", startsecs=2, stopwaitsecs=30),
    Program("producer", startsecs=3, stopwaitsecs=40),
)
# Not part of the pipeline: started by `make metabase` (and by `make run` once set up), never
# counted against the pipeline's health.
METABASE = Program("metabase", startsecs=10, stopwaitsecs=60)
RUNNING_STATES = ("STARTING", "RUNNING", "BACKOFF")
# Failed starts before supervisord gives up: never, in practice (the back-off grows by a second
# each time: a million failed starts take thousands of years).
START_RETRIES = 1_000_000


def _escape(value: str) -> str:
    # supervisord expands %(name)s in its configuration.
    return value.replace("%", "%%")


def socket_path(layout: Layout) -> Path:
    """The control socket: in the state directory, or in /tmp when that path is too long for a socket."""
    path = layout.run_dir / "supervisor.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(layout.root).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"wikistream-{digest}.sock"


def render_config(
    layout: Layout, programs: tuple[Program, ...] = (*PROGRAMS, METABASE), python: str = sys.executable
) -> str:
    """supervisord.conf for this state directory (pure: the tests read it)."""
    sock = _escape(str(socket_path(layout)))
    logs = layout.log_dir
    sections = [
        f"""[unix_http_server]
file={sock}
chmod=0700

[supervisord]
nodaemon=true
# Its log file only: its standard output is that same file (stack.supervisord), for start-up errors.
silent=true
logfile={_escape(str(logs / "supervisord.log"))}
logfile_maxbytes=20MB
logfile_backups=3
pidfile={_escape(str(layout.run_dir / "supervisord.self.pid"))}
childlogdir={_escape(str(logs))}
directory={_escape(str(REPO_ROOT))}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{sock}
"""
    ]
    for program in programs:
        sections.append(
            f"""[program:{program.name}]
command={_escape(python)} -m stack.launch {program.name}
directory={_escape(str(REPO_ROOT))}
autostart=false
autorestart=true
startsecs={program.startsecs}
startretries={START_RETRIES}
stopsignal={program.stopsignal}
stopwaitsecs={program.stopwaitsecs}
stopasgroup=true
killasgroup=true
umask={state_dir.PROCESS_UMASK:03o}
redirect_stderr=true
stdout_logfile={_escape(str(logs / f"{program.name}.log"))}
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=3
"""
        )
    return "\n".join(sections)


class Supervisor:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.process = ManagedProcess("supervisord", layout.run_dir, layout.log_dir)
        self.config_file = layout.run_dir / "supervisord.conf"

    def is_running(self) -> bool:
        return self.process.is_running()

    # XML-RPC answers carry no types: each one is read by the field supervisord documents.
    def _rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{socket_path(self.layout)}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def start(self, env: dict[str, str], timeout: float = 30.0) -> None:
        """supervisord up and answering (started with env, which its programs inherit, when it is not running)."""
        if not self.is_running():
            self.layout.run_dir.mkdir(parents=True, exist_ok=True)
            self.layout.log_dir.mkdir(parents=True, exist_ok=True)
            self.config_file.write_text(render_config(self.layout))
            self.process.start([sys.executable, "-m", "stack.supervisord", "-c", str(self.config_file)], env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise PrerequisiteError(f"supervisord exited: see {self.layout.log_dir / 'supervisord.log'}")
            try:
                if self._rpc().supervisor.getState()["statename"] == "RUNNING":
                    return
            except (OSError, xmlrpc.client.Error):
                pass
            time.sleep(0.2)
        raise PrerequisiteError(f"supervisord did not answer within {timeout:.0f} s")

    def ensure_program(self, name: str) -> None:
        """Make a supervisord started from an older configuration (without this program) learn it."""
        if name in self.states():
            return
        self.config_file.write_text(render_config(self.layout))
        try:
            self._rpc().supervisor.reloadConfig()
            self._rpc().supervisor.addProcessGroup(name)
        except xmlrpc.client.Fault as fault:
            raise PrerequisiteError(f"supervisord could not add {name}: {fault.faultString}") from fault

    def start_program(self, name: str) -> None:
        """Start a program unless it runs (supervisord restarts it from now on whenever it exits)."""
        if self.state(name) in RUNNING_STATES:
            return
        try:
            self._rpc().supervisor.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise PrerequisiteError(f"supervisord could not start {name}: {fault.faultString}") from fault

    def stop_program(self, name: str) -> bool:
        """Stop a program (supervisord does not bring it back); True when it was running."""
        if self.state(name) not in RUNNING_STATES:
            return False
        try:
            self._rpc().supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise PrerequisiteError(f"supervisord could not stop {name}: {fault.faultString}") from fault
        return True

    def state(self, name: str) -> str | None:
        """The program's supervisor state (RUNNING, BACKOFF, FATAL, STOPPED, ...), None without supervisord."""
        return self.states().get(name)

    def states(self) -> dict[str, str]:
        if not self.is_running():
            return {}
        try:
            return {info["name"]: info["statename"] for info in self._rpc().supervisor.getAllProcessInfo()}
        except (OSError, xmlrpc.client.Error):
            return {}

    def shutdown(self) -> bool:
        """Stop supervisord itself (after its programs); True when it was running."""
        if not self.is_running():
            return False
        with contextlib.suppress(OSError, xmlrpc.client.Error):
            self._rpc().supervisor.shutdown()
        self.process.stop(timeout=60)
        return True
