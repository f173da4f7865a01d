"""The one client of Flink's REST API, for both stacks: jobs, their health, savepoints, cancel.

A job is *live* when Flink may still run it: every state but the terminal ones (FINISHED, CANCELED,
FAILED) and SUSPENDED (a job the JobManager gave up without HA). RESTARTING, FAILING, CANCELLING
and INITIALIZING jobs are live: a second job must never be submitted beside one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

NOT_LIVE_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})
# The sink's metrics (flink_job/functions, UpsertWriter).
RETRYING_METRIC = "wikistreamRetrying"
QUARANTINED_METRIC = "wikistreamQuarantined"


class FlinkRestError(RuntimeError):
    """Flink answered a request that changes something with an error (or not at all)."""


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    name: str
    state: str
    start_time_ms: int

    @property
    def live(self) -> bool:
        return self.state not in NOT_LIVE_STATES


@dataclass(frozen=True)
class JobException:
    timestamp_ms: int
    summary: str


class FlinkRest:
    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def get(self, path: str, params: dict[str, str] | None = None) -> Any | None:
        """The decoded JSON answer, or None when Flink is not reachable or answers with an error."""
        try:
            response = self.session.get(self.base_url + path, params=params, timeout=self.timeout_s)
        except requests.RequestException:
            return None
        if not response.ok:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def reachable(self) -> bool:
        return self.overview() is not None

    def overview(self) -> dict[str, Any] | None:
        return self.get("/overview")

    def jobs(self, name: str) -> list[JobSummary]:
        """Jobs with this name the JobManager knows, newest first."""
        answer = self.get("/jobs/overview") or {"jobs": []}
        found = [
            JobSummary(job["jid"], job["name"], job["state"], int(job["start-time"]))
            for job in answer.get("jobs", [])
            if job.get("name") == name
        ]
        return sorted(found, key=lambda job: job.start_time_ms, reverse=True)

    def live_jobs(self, name: str) -> list[JobSummary]:
        return [job for job in self.jobs(name) if job.live]

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self.get(f"/jobs/{job_id}")

    def state(self, job_id: str) -> str | None:
        details = self.job(job_id)
        return details.get("state") if details else None

    def taskmanager_heartbeats(self) -> dict[str, float]:
        """When each registered TaskManager was last heard of (epoch s), by its id."""
        answer = self.get("/taskmanagers") or {}
        # Despite its name, timeSinceLastHeartbeat holds the epoch milliseconds of the last heartbeat
        # (0 until the first one).
        return {
            str(tm.get("id")): int(tm.get("timeSinceLastHeartbeat") or 0) / 1000
            for tm in answer.get("taskmanagers", [])
        }

    def task_counts(self, job_id: str) -> tuple[int, int]:
        """(running, total) subtasks of the job."""
        details = self.job(job_id) or {}
        vertices = details.get("vertices", [])
        total = sum(int(vertex.get("parallelism", 0)) for vertex in vertices)
        running = sum(int(vertex.get("tasks", {}).get("RUNNING", 0)) for vertex in vertices)
        return running, total

    def all_tasks_running(self, job_id: str) -> bool:
        details = self.job(job_id)
        if not details or details.get("state") != "RUNNING":
            return False
        running, total = self.task_counts(job_id)
        return total > 0 and running == total

    def wait_until_running(self, job_id: str, timeout_s: float, stopping: threading.Event | None = None) -> str:
        """'RUNNING' once every task runs; 'live' if still starting or restarting at the time-out; else why it ended."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not (stopping and stopping.is_set()):
            if self.all_tasks_running(job_id):
                return "RUNNING"
            state = self.state(job_id)
            if state in NOT_LIVE_STATES:
                failures = self.exceptions(job_id)
                return f"{state}: {failures[0].summary if failures else 'no error reported'}"
            time.sleep(1.0)
        return "live"

    def exceptions(self, job_id: str) -> list[JobException]:
        """The job's failures, newest first: each one made Flink restart (part of) the job."""
        answer = self.get(f"/jobs/{job_id}/exceptions", {"maxExceptions": "50"}) or {}
        entries = (answer.get("exceptionHistory") or {}).get("entries", [])
        return [
            JobException(
                int(entry.get("timestamp", 0)), _first_line(entry.get("stacktrace") or entry.get("exceptionName", ""))
            )
            for entry in entries
        ]

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        return self.get(f"/jobs/{job_id}/checkpoints") or {}

    def restored_from(self, job_id: str) -> str | None:
        """The savepoint or checkpoint the job was started from (None: it started without state)."""
        restored = (self.checkpoints(job_id).get("latest") or {}).get("restored") or {}
        return restored.get("external_path")

    def last_completed_checkpoint_ms(self, job_id: str) -> int | None:
        completed = (self.checkpoints(job_id).get("latest") or {}).get("completed") or {}
        stamp = completed.get("latest_ack_timestamp")
        return int(stamp) if stamp else None

    def sink_metric_total(self, job_id: str, metric: str) -> int:
        """The sum of one of the sink's metrics over every subtask of every vertex that has it."""
        total = 0
        for vertex in (self.job(job_id) or {}).get("vertices", []):
            path = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
            names = [item["id"] for item in self.get(path) or [] if item.get("id", "").endswith(f".{metric}")]
            if names:
                for item in self.get(path, {"get": ",".join(names)}) or []:
                    try:
                        total += int(float(item.get("value", 0)))
                    except (TypeError, ValueError):
                        continue
        return total

    def cancel(self, job_id: str, timeout_s: float = 60.0) -> None:
        """Cancel without a savepoint (PATCH: Flink ignores other verbs) and wait until the job is gone."""
        try:
            response = self.session.patch(f"{self.base_url}/jobs/{job_id}", params={"mode": "cancel"}, timeout=10)
        except requests.RequestException as error:
            raise FlinkRestError(f"cancelling job {job_id} failed: {error}") from error
        if not response.ok:
            raise FlinkRestError(f"cancelling job {job_id} failed: HTTP {response.status_code} {response.text[:200]}")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.state(job_id) in NOT_LIVE_STATES:
                return
            time.sleep(0.5)
        raise FlinkRestError(f"job {job_id} did not cancel within {timeout_s:.0f} s")

    def stop_with_savepoint(self, job_id: str, target_dir: str, timeout_s: float = 120.0) -> str:
        """Stop the job, taking a savepoint; returns its location. Raises FlinkRestError when none was taken."""
        try:
            response = self.session.post(
                f"{self.base_url}/jobs/{job_id}/stop", json={"targetDirectory": target_dir, "drain": False}, timeout=10
            )
        except requests.RequestException as error:
            raise FlinkRestError(f"stop-with-savepoint of job {job_id} could not be triggered: {error}") from error
        if not response.ok:
            raise FlinkRestError(f"stop-with-savepoint of job {job_id} refused: HTTP {response.status_code}")
        trigger = response.json()["request-id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.get(f"/jobs/{job_id}/savepoints/{trigger}") or {}
            if status.get("status", {}).get("id") == "COMPLETED":
                operation = status.get("operation", {})
                if "location" in operation:
                    return str(operation["location"])
                cause = (operation.get("failure-cause") or {}).get("stack-trace", "no cause given")
                raise FlinkRestError(f"the savepoint of job {job_id} failed: {_first_line(cause)}")
            time.sleep(0.5)
        raise FlinkRestError(f"no savepoint of job {job_id} within {timeout_s:.0f} s")


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""
