"""`python -m stack.keeper`: the embedded stack's job keeper (a supervised program) and health recorder.

Keeps the PyFlink job running with wikistream.job_keeper (the container stack's job container runs
the same keeper), records the pipeline's health in PostgreSQL every HEALTH_RECORD_INTERVAL_S
seconds (default 10) for v_pipeline_health, and runs the retention (wikistream/retention.py) every
MAINTENANCE_INTERVAL_S. On SIGTERM it stops keeping and exits; the job itself
is left running (`make stop` takes its savepoint).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from stack.embedded import EmbeddedStack
from stack.preflight import PrerequisiteError
from wikistream.health import start_recording
from wikistream.job_keeper import JobKeeper
from wikistream.retention import start_maintenance
from wikistream.settings import stack_settings

log = logging.getLogger("job-keeper")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stdout)
    # kafka-python logs every connection it opens and closes (the health check opens one per look).
    logging.getLogger("kafka").setLevel(logging.WARNING)
    stack = EmbeddedStack(stack_settings())

    def submit(restore_from: Path | None) -> str | None:
        try:
            return stack.flink.submit(stack.job_env(), restore_from)
        except PrerequisiteError as error:
            log.error("%s", error)
            return None

    keeper = JobKeeper(
        stack.flink.rest,
        stack.settings.flink_job_name,
        stack.flink.restore_points,
        submit,
        required_slots=stack.settings.flink_task_slots,
        allow_fresh_start=os.environ.get("JOB_ALLOW_FRESH_START") == "1",
        log_path=stack.keeper_log_file,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    start_recording(lambda: stack.health(stack.status()), stack.writer_dsn(), stopping)
    start_maintenance(stack.writer_dsn(), stopping, stack.settings.maintenance_interval_s)
    keeper.run(stopping)
    log.info("stopped keeping the job (it keeps running)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
