"""`make status` tells the truth: degraded, with a non-zero exit, while data does not flow as it should.

Runs on the shared isolated stack (tests/conftest.py), after the end-to-end tests: the faults here
leave restarts in the job's recent history.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

from tests.conftest import RunningStack
from tests.test_end_to_end import tagged, wait_for_counts
from wikistream.flink_rest import FlinkRest
from wikistream.health import RESTART_QUIET_S
from wikistream.postgres import WRITER_USER
from wikistream.settings import stack_settings


def status(stack: RunningStack) -> tuple[int, str]:
    result = stack.cli("status")
    return result.returncode, result.stdout.split("container stack")[0]


def restarts(text: str) -> int:
    return int(re.search(r"restarts \(10 min\)\s+(\d+)", text).group(1))


def job_restarts(stack: RunningStack) -> int:
    """Flink's own count of the live job's restarts since it was submitted (never decreases)."""
    rest = FlinkRest(f"http://127.0.0.1:{stack.env['FLINK_REST_PORT']}")
    [job] = rest.live_jobs(stack_settings().flink_job_name)
    answer = rest.get(f"/jobs/{job.job_id}/metrics", {"get": "numRestarts"}) or []
    return int(answer[0]["value"]) if answer else 0


def wait_for_status(stack: RunningStack, degraded: bool, within_s: float, also: str = "") -> str:
    deadline = time.monotonic() + within_s
    while True:
        code, text = status(stack)
        if (code == 1) == degraded and ("DEGRADED" in text) == degraded and also in text:
            return text
        assert time.monotonic() < deadline, (
            f"status not {'degraded' if degraded else 'healthy'} in {within_s} s:\n{text}"
        )
        time.sleep(2)


def test_status_is_degraded_within_30_s_of_a_taskmanager_kill_and_healthy_once_recovered(
    running_stack: RunningStack,
) -> None:
    wait_for_status(running_stack, degraded=False, within_s=60)
    before = job_restarts(running_stack)
    pid = running_stack.pid("flink-taskmanager")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for_status(running_stack, degraded=True, within_s=30)
    # A TaskManager kill may cost the job several restarts at once (one each while no slot is back):
    # past HEALTH_MAX_RESTARTS_10M, status stays degraded until they are RESTART_QUIET_S old.
    text = wait_for_status(running_stack, degraded=False, within_s=RESTART_QUIET_S + 60)
    # The kill made the job fail over, and status counts restarts in its last 10 minutes. Not compared
    # with the count before the kill: an older restart can leave the window as this one enters it.
    # The REST API serves metrics from a cache the JobManager refreshes every 10 s
    # (metrics.fetcher.update-interval), so a recovery faster than that still reads the old count.
    deadline = time.monotonic() + 30
    while (after := job_restarts(running_stack)) <= before and time.monotonic() < deadline:
        time.sleep(2)
    assert after > before
    assert restarts(text) >= 1, text
    assert running_stack.pid("flink-taskmanager") not in (None, pid)


def test_a_database_that_refuses_writes_is_retried_reported_and_loses_nothing(running_stack: RunningStack) -> None:
    """PostgreSQL refuses the writer (a lost privilege): the sink retries, status says so, nothing is lost.

    Not a row's fault, so nothing may be quarantined: the job retries and restarts until the grant is
    back, then every click sent meanwhile lands exactly once.
    """
    tag = f"revoked-{uuid.uuid4().hex[:6]}"
    running_stack.query(f"REVOKE INSERT ON clicks FROM {WRITER_USER}")
    try:
        running_stack.send_events(tagged(tag, 40, int(time.time() * 1000)))
        text = wait_for_status(running_stack, degraded=True, within_s=30)
        assert "sink(s) retrying PostgreSQL" in text or "tasks running" in text, text
        assert running_stack.count("SELECT count(*) FROM clicks WHERE event_id LIKE %s", (f"{tag}-%",)) == 0
    finally:
        running_stack.query(f"GRANT INSERT ON clicks TO {WRITER_USER}")
    wait_for_counts(running_stack, tag, (40, 40, 40), 240)
    assert running_stack.count("SELECT count(*) FROM rejected_events WHERE reason LIKE 'refused by PostgreSQL%'") == 0
