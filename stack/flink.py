"""A standalone Flink cluster (one JobManager, one TaskManager) from the distribution inside apache-flink.

This module says how each JVM is configured and started, and how the job is submitted (the PyFlink
client); the job's lifecycle is wikistream.flink_rest and wikistream.job_keeper, shared with the
container stack.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stack.preflight import PrerequisiteError, wait_for_port
from stack.process import ManagedProcess
from wikistream.flink_config import ClusterSpec, cluster_options, write_config
from wikistream.flink_rest import FlinkRest
from wikistream.job_keeper import RestorePoints
from wikistream.layout import Layout
from wikistream.settings import REPO_ROOT

JOB_ENTRYPOINT = REPO_ROOT / "flink_job" / "main.py"


def flink_home() -> Path:
    spec = importlib.util.find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        raise PrerequisiteError("the apache-flink package is missing: run 'make install' first.")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class FlinkMemory:
    """Process sizes for each JVM, set explicitly so the stack's footprint is known (config/stack.env)."""

    jobmanager: str
    taskmanager: str
    managed_fraction: float


class FlinkCluster:
    def __init__(
        self,
        layout: Layout,
        rest_port: int,
        rpc_port: int,
        task_slots: int,
        memory: FlinkMemory,
    ) -> None:
        self.layout = layout
        self.rest_port = rest_port
        self.rpc_port = rpc_port
        self.task_slots = task_slots
        self.memory = memory
        self.conf_dir = layout.flink_dir / "conf"
        self.jobmanager = ManagedProcess("flink-jobmanager", layout.run_dir, layout.log_dir)
        self.taskmanager = ManagedProcess("flink-taskmanager", layout.run_dir, layout.log_dir)
        self.rest = FlinkRest(self.rest_url)
        self.restore_points = RestorePoints(layout.savepoints_dir, layout.checkpoints_dir)

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def config(self) -> dict[str, object]:
        """Flat config.yaml keys: the shared ones, a cluster on loopback, and this stack's directories."""
        spec = ClusterSpec(
            jobmanager_host="127.0.0.1",
            bind_host="127.0.0.1",
            rpc_port=self.rpc_port,
            rest_port=self.rest_port,
            task_slots=self.task_slots,
            parallelism=self.task_slots,
            jobmanager_memory=self.memory.jobmanager,
            taskmanager_memory=self.memory.taskmanager,
            managed_fraction=self.memory.managed_fraction,
            checkpoints_uri=self.layout.checkpoints_dir.as_uri(),
            savepoints_uri=self.layout.savepoints_dir.as_uri(),
        )
        return cluster_options(flink_home(), spec) | {
            "taskmanager.host": "127.0.0.1",
            "blob.server.port": "0",
            # Inside the state directory, so a restarted TaskManager's leftovers go with `make reset`.
            "io.tmp.dirs": str(self.layout.flink_dir / "tmp"),
        }

    def write_config(self) -> None:
        (self.layout.flink_dir / "tmp").mkdir(parents=True, exist_ok=True)
        write_config(flink_home(), self.conf_dir, self.config())

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "FLINK_HOME": str(flink_home()),
                "FLINK_CONF_DIR": str(self.conf_dir),
                "FLINK_LOG_DIR": str(self.layout.log_dir),
                "FLINK_PID_DIR": str(self.layout.run_dir / "flink"),
                # The PyFlink client runs the job script with the stack's own interpreter.
                "PYFLINK_CLIENT_EXECUTABLE": sys.executable,
            }
        )
        return env

    def _script(self, name: str) -> list[str]:
        return ["bash", str(flink_home() / "bin" / name)]

    def command(self, role: str) -> list[str]:
        """The foreground command of 'jobmanager' or 'taskmanager' (the scripts exec the JVM: same pid)."""
        return [*self._script(f"{role}.sh"), "start-foreground"]

    def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None:
        """Until the REST API answers and the TaskManager's slots are registered."""
        wait_for_port(self.rest_port, "the Flink JobManager", timeout, alive=alive)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            overview = self.rest.overview()
            if overview and overview.get("slots-total", 0) >= self.task_slots:
                return
            time.sleep(0.5)
        raise PrerequisiteError(
            f"the Flink TaskManager did not register within {timeout:.0f} s: see {self.layout.log_dir}"
        )

    def submit(self, job_env: dict[str, str], restore_from: Path | None) -> str:
        """Submit the PyFlink job detached; returns the job id the client printed."""
        command = [*self._script("flink"), "run", "-m", f"127.0.0.1:{self.rest_port}", "-d"]
        if restore_from is not None:
            command += ["-s", str(restore_from)]
        command += ["-py", str(JOB_ENTRYPOINT), "-pyfs", str(REPO_ROOT)]
        env = self.env() | job_env
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
        log = self.layout.log_dir / "flink-submit.log"
        log.write_text(result.stdout + result.stderr)
        for line in result.stdout.splitlines():
            if "JobID" in line:
                return line.split("JobID")[-1].strip()
        raise PrerequisiteError(f"submitting the Flink job failed: see {log}\n{_tail(result.stdout + result.stderr)}")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
