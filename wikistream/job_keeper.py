"""Keep the Flink job running, on either stack: one module, paths, URLs and submission as parameters.

Once per poll: when Flink answers and no live job of this name exists (a JobManager restart loses
every job: the stacks run no HA), the job is submitted again from the newest restore point (a
savepoint or a retained checkpoint, a directory holding `_metadata`), never beside a live job.
When a restore point does not bring the job to RUNNING, the next older one is tried; when none
does, the keeper does NOT start the job without its state (that would recount or lose windows and
sessions) unless allow_fresh_start is set: it reports the failure and tries again later.

Every submission is recorded in a small JSON file, so health can count recent resubmissions and
say what each one was restored from. Old restore points are pruned once the live job has one of
its own.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wikistream.atomic_file import write_atomically
from wikistream.flink_rest import FlinkRest, FlinkRestError

log = logging.getLogger(__name__)

# Submit the job, optionally restoring from a restore point; returns its job id, or None (logged).
Submit = Callable[[Path | None], str | None]


@dataclass(frozen=True)
class RestorePoints:
    savepoints: Path
    checkpoints: Path

    def newest(self, limit: int = 3) -> list[Path]:
        """Complete restore points (directories with _metadata), newest first."""
        found = [
            meta.parent
            for base in (self.savepoints, self.checkpoints)
            if base.exists()
            for meta in base.glob("**/_metadata")
        ]
        return sorted(found, key=lambda path: (path / "_metadata").stat().st_mtime, reverse=True)[:limit]

    def prune(self, live_job_id: str, keep_savepoints: int = 3) -> list[Path]:
        """Checkpoints of jobs other than the live one, and all but the newest savepoints; returns what went.

        Call only once the live job has completed a checkpoint of its own: its first checkpoint after
        a restore is a full one (Flink's default NO_CLAIM mode), so older jobs' files are not needed.
        """
        removed = []
        if self.checkpoints.exists():
            for job_dir in self.checkpoints.iterdir():
                if job_dir.is_dir() and job_dir.name != live_job_id:
                    shutil.rmtree(job_dir, ignore_errors=True)
                    removed.append(job_dir)
        if self.savepoints.exists():
            savepoints = sorted(
                (meta.parent for meta in self.savepoints.glob("*/_metadata")),
                key=lambda path: (path / "_metadata").stat().st_mtime,
                reverse=True,
            )
            for old in savepoints[keep_savepoints:]:
                shutil.rmtree(old, ignore_errors=True)
                removed.append(old)
        return removed


@dataclass
class Submission:
    at: float
    job_id: str | None
    restored_from: str | None
    # The job it replaces, when that one was lost (None for the first start).
    replaces: str | None
    error: str | None = None


@dataclass
class KeeperLog:
    """The keeper's memory across its own restarts: what it kept and what it submitted."""

    path: Path | None
    kept_job_id: str | None = None
    submissions: list[Submission] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None) -> KeeperLog:
        if path is None or not path.exists():
            return cls(path)
        try:
            raw = json.loads(path.read_text())
            return cls(path, raw.get("kept_job_id"), [Submission(**item) for item in raw.get("submissions", [])])
        except (ValueError, TypeError):
            return cls(path)

    def save(self) -> None:
        if self.path is None:
            return
        # The newest 200 are plenty for "restarts in the last 10 minutes" and a history to read.
        self.submissions = self.submissions[-200:]
        write_atomically(
            self.path,
            json.dumps({"kept_job_id": self.kept_job_id, "submissions": [asdict(s) for s in self.submissions]}),
        )

    def resubmissions_since(self, since: float) -> int:
        return sum(1 for s in self.submissions if s.replaces is not None and s.at >= since)


class JobKeeper:
    def __init__(
        self,
        rest: FlinkRest,
        job_name: str,
        restore_points: RestorePoints,
        submit: Submit,
        *,
        required_slots: int,
        startup_timeout_s: float = 300.0,
        allow_fresh_start: bool = False,
        log_path: Path | None = None,
        retry_after_s: float = 60.0,
    ) -> None:
        self.rest = rest
        self.job_name = job_name
        self.restore_points = restore_points
        self.submit = submit
        self.required_slots = required_slots
        self.startup_timeout_s = startup_timeout_s
        self.allow_fresh_start = allow_fresh_start
        self.retry_after_s = retry_after_s
        self.history = KeeperLog.load(log_path)
        self._not_before = 0.0
        self._pruned_for: str | None = None
        self._slots_seen: int | None = None

    def keep_once(self, stopping: threading.Event) -> str | None:
        """One look: the live job's id, after submitting it if it was gone (None while that is impossible)."""
        overview = self.rest.overview()
        if overview is None:
            return None
        live = self.rest.live_jobs(self.job_name)
        if live:
            newest, *older = live
            for duplicate in older:
                log.warning("job %s runs beside the newer %s: cancelling it", duplicate.job_id, newest.job_id)
                try:
                    self.rest.cancel(duplicate.job_id)
                except FlinkRestError as error:
                    log.error("%s", error)
            self._keep(newest.job_id)
            return newest.job_id
        if time.monotonic() < self._not_before:
            return None
        slots = int(overview.get("slots-total", 0))
        if slots < self.required_slots:
            if slots != self._slots_seen:
                log.info("waiting for %d task slots (%d available)", self.required_slots, slots)
            self._slots_seen = slots
            return None
        self._slots_seen = slots
        return self._start(stopping)

    def _keep(self, job_id: str) -> None:
        if job_id != self.history.kept_job_id:
            self.history.kept_job_id = job_id
            self.history.save()
        if job_id != self._pruned_for and self.rest.last_completed_checkpoint_ms(job_id):
            for path in self.restore_points.prune(job_id):
                log.info("pruned old restore point %s", path)
            self._pruned_for = job_id

    def _start(self, stopping: threading.Event) -> str | None:
        lost = self.history.kept_job_id
        if lost:
            log.warning("job %s is gone (the JobManager lost it): submitting the job again", lost)
        candidates: list[Path | None] = list(self.restore_points.newest())
        if not candidates or self.allow_fresh_start:
            candidates.append(None)
        errors = []
        for point in candidates:
            if stopping.is_set():
                return None
            log.info("submitting %s %s", self.job_name, f"from {point}" if point else "without state")
            job_id = self.submit(point)
            outcome = (
                self.rest.wait_until_running(job_id, self.startup_timeout_s, stopping) if job_id else "not submitted"
            )
            self.history.submissions.append(
                Submission(
                    time.time(), job_id, str(point) if point else None, lost, None if outcome == "RUNNING" else outcome
                )
            )
            self.history.save()
            if outcome in ("RUNNING", "live"):
                log.info("job %s is %s", job_id, "RUNNING" if outcome == "RUNNING" else "live, not yet RUNNING")
                self._keep(job_id or "")
                return job_id
            errors.append(f"{point or 'no state'}: {outcome}")
            log.error("job did not start from %s: %s", point or "no state", outcome)
        log.error(
            "the job could not be started from any restore point (%s); retrying in %.0f s. It is never started "
            "without its state on its own: set JOB_ALLOW_FRESH_START=1 to allow that, or reset the stack.",
            "; ".join(errors),
            self.retry_after_s,
        )
        self._not_before = time.monotonic() + self.retry_after_s
        return None

    def run(self, stopping: threading.Event, poll_s: float = 2.0) -> None:
        """Keep the job running until `stopping` is set."""
        log.info("keeping job '%s' running at %s", self.job_name, self.rest.base_url)
        while not stopping.is_set():
            self.keep_once(stopping)
            stopping.wait(poll_s)
