"""A standalone Flink cluster (one JobManager, one TaskManager) from the distribution inside apache-flink.

Also the job's lifecycle: submit with the PyFlink client, find it, stop it with a savepoint, and
resume from the newest savepoint or retained checkpoint.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from stack.layout import Layout
from stack.preflight import PrerequisiteError, wait_for_port
from stack.process import ManagedProcess
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

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def _config(self) -> dict[str, object]:
        home = flink_home()
        shipped = yaml.safe_load((home / "conf" / "config.yaml").read_text())
        java_opts = shipped["env"]["java"]["opts"]["all"]
        return {
            # Flink's own module-access flags, plus UTC so timestamps mean the same in every JVM.
            "env": {"java": {"opts": {"all": f"{java_opts} -Duser.timezone=UTC"}}},
            "jobmanager": {
                "bind-host": "127.0.0.1",
                "rpc": {"address": "127.0.0.1", "port": self.rpc_port},
                "memory": {"process": {"size": self.memory.jobmanager}},
                "execution": {"failover-strategy": "region"},
            },
            "taskmanager": {
                "bind-host": "127.0.0.1",
                "host": "127.0.0.1",
                "numberOfTaskSlots": self.task_slots,
                "memory": {
                    "process": {"size": self.memory.taskmanager},
                    "managed": {"fraction": self.memory.managed_fraction},
                },
            },
            "parallelism": {"default": self.task_slots},
            "rest": {"address": "127.0.0.1", "bind-address": "127.0.0.1", "port": self.rest_port},
            "blob": {"server": {"port": "0"}},
            "execution": {
                "checkpointing": {
                    "dir": self.layout.checkpoints_dir.as_uri(),
                    "savepoint-dir": self.layout.savepoints_dir.as_uri(),
                    # Keep checkpoints when a job is cancelled or the cluster dies, to resume from.
                    "externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
                    "num-retained": 3,
                }
            },
            "table": {"local-time-zone": "UTC"},
        }

    def _write_config(self) -> None:
        home = flink_home()
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for name in ("log4j.properties", "log4j-console.properties", "log4j-cli.properties"):
            shutil.copyfile(home / "conf" / name, self.conf_dir / name)
        (self.conf_dir / "config.yaml").write_text(yaml.safe_dump(self._config(), sort_keys=False))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "FLINK_HOME": str(flink_home()),
                "FLINK_CONF_DIR": str(self.conf_dir),
                "FLINK_LOG_DIR": str(self.layout.log_dir),
                # The PyFlink client runs the job script with the stack's own interpreter.
                "PYFLINK_CLIENT_EXECUTABLE": sys.executable,
            }
        )
        return env

    def _script(self, name: str) -> list[str]:
        return ["bash", str(flink_home() / "bin" / name)]

    def start(self, timeout: float = 120.0) -> None:
        self._write_config()
        for process, script in ((self.jobmanager, "jobmanager.sh"), (self.taskmanager, "taskmanager.sh")):
            if not process.is_running():
                process.start([*self._script(script), "start-foreground"], env=self.env())
        wait_for_port(self.rest_port, "the Flink JobManager", timeout, alive=self.jobmanager.is_running)
        self._wait_for_slots(timeout)

    def _wait_for_slots(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.taskmanager.is_running():
                raise PrerequisiteError(f"the Flink TaskManager exited: see {self.taskmanager.log_file}")
            overview = self.overview()
            if overview and overview.get("slots-total", 0) >= self.task_slots:
                return
            time.sleep(0.5)
        raise PrerequisiteError(f"the Flink TaskManager did not register within {timeout:.0f} s")

    def stop(self) -> bool:
        stopped_tm = self.taskmanager.stop(timeout=30)
        stopped_jm = self.jobmanager.stop(timeout=30)
        return stopped_tm or stopped_jm

    def _get(self, path: str) -> dict | None:
        try:
            response = requests.get(self.rest_url + path, timeout=5)
        except requests.RequestException:
            return None
        return response.json() if response.ok else None

    def overview(self) -> dict | None:
        return self._get("/overview")

    def find_job(self, name: str) -> tuple[str, str] | None:
        """(job id, state) of the newest job with this name that is not finished, else None."""
        jobs = self._get("/jobs/overview") or {"jobs": []}
        live = [
            job
            for job in jobs["jobs"]
            if job["name"] == name and job["state"] not in ("FINISHED", "CANCELED", "FAILED")
        ]
        if not live:
            return None
        newest = max(live, key=lambda job: job["start-time"])
        return newest["jid"], newest["state"]

    def job_running(self, job_id: str) -> bool:
        """True once the job and every one of its tasks is RUNNING."""
        details = self._get(f"/jobs/{job_id}")
        if not details or details["state"] != "RUNNING":
            return False
        return all(vertex["status"] == "RUNNING" for vertex in details["vertices"])

    def job_failure(self, job_id: str) -> str | None:
        exceptions = self._get(f"/jobs/{job_id}/exceptions") or {}
        root = exceptions.get("root-exception")
        return root.splitlines()[0] if root else None

    def latest_restore_point(self) -> Path | None:
        """The newest savepoint or retained checkpoint (a directory with _metadata), if any."""
        candidates = [
            meta.parent
            for base in (self.layout.savepoints_dir, self.layout.checkpoints_dir)
            if base.exists()
            for meta in base.glob("**/_metadata")
        ]
        return max(candidates, key=lambda path: (path / "_metadata").stat().st_mtime, default=None)

    def submit(self, job_env: dict[str, str], restore_from: Path | None) -> str:
        """Submit the PyFlink job detached; returns the job id the client printed."""
        command = [*self._script("flink"), "run", "-m", f"127.0.0.1:{self.rest_port}", "-d"]
        if restore_from is not None:
            command += ["-s", str(restore_from)]
        command += ["-py", str(JOB_ENTRYPOINT), "-pyfs", str(REPO_ROOT)]
        env = self.env() | job_env
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=REPO_ROOT)  # noqa: S603
        log = self.layout.log_dir / "flink-submit.log"
        log.write_text(result.stdout + result.stderr)
        for line in result.stdout.splitlines():
            if "JobID" in line:
                return line.split("JobID")[-1].strip()
        hint = (
            f"\nIt was resuming from {restore_from}; if the job's SQL changed since, 'make reset' starts afresh."
            if restore_from
            else ""
        )
        raise PrerequisiteError(f"submitting the Flink job failed: see {log}\n{_tail(result.stdout + result.stderr)}{hint}")

    def cancel(self, job_id: str, timeout: float = 60.0) -> None:
        """Cancel a job (no savepoint) and wait until it is gone."""
        requests.patch(f"{self.rest_url}/jobs/{job_id}", params={"mode": "cancel"}, timeout=10).raise_for_status()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self._get(f"/jobs/{job_id}") or {}).get("state") in ("CANCELED", "FAILED", "FINISHED"):
                return
            time.sleep(0.5)
        raise PrerequisiteError(f"job {job_id} did not cancel within {timeout:.0f} s")

    def stop_with_savepoint(self, job_id: str, timeout: float = 120.0) -> Path | None:
        """Stop the job, taking a savepoint; returns its location (None if it could not be taken)."""
        try:
            response = requests.post(
                f"{self.rest_url}/jobs/{job_id}/stop",
                json={"targetDirectory": self.layout.savepoints_dir.as_uri(), "drain": False},
                timeout=10,
            )
            response.raise_for_status()
        except requests.RequestException:
            return None
        trigger = response.json()["request-id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._get(f"/jobs/{job_id}/savepoints/{trigger}") or {}
            if status.get("status", {}).get("id") == "COMPLETED":
                operation = status.get("operation", {})
                location = operation.get("location")
                return Path(location.removeprefix("file:")) if location else None
            time.sleep(0.5)
        return None


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
