"""Flink settings both stacks share, as flat config.yaml keys: recovery, retention, and what the REST API allows.

Each stack adds only where things are (addresses, ports, memory, directories); stack/flink.py and
docker/flink/flink.py both start from these.
"""

from __future__ import annotations

HEARTBEAT_INTERVAL_S = 3.0
# A TaskManager silent for longer than this has missed a heartbeat: it is probably dead, though Flink
# lists it (and its tasks as RUNNING) until the second miss.
HEARTBEAT_SILENCE_S = 1.5 * HEARTBEAT_INTERVAL_S


def shared_options(checkpoints_uri: str, savepoints_uri: str) -> dict[str, object]:
    return {
        "execution.checkpointing.dir": checkpoints_uri,
        "execution.checkpointing.savepoint-dir": savepoints_uri,
        # Keep checkpoints when a job is cancelled or its JobManager dies: the job keeper resumes from them.
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": 3,
        "jobmanager.execution.failover-strategy": "region",
        # Restart for ever, at most 10 s apart: a PostgreSQL or Kafka outage ends, and the job must
        # then be back within seconds, not after Flink's default back-off of up to a minute.
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "10 s",
        "restart-strategy.exponential-delay.backoff-multiplier": 2.0,
        "restart-strategy.exponential-delay.reset-backoff-threshold": "2 min",
        "restart-strategy.exponential-delay.jitter-factor": 0.1,
        # A killed TaskManager is noticed after two missed heartbeats (~6 s) instead of ~20 s.
        "heartbeat.interval": f"{HEARTBEAT_INTERVAL_S:.0f} s",
        "heartbeat.timeout": "30 s",
        # A TaskManager whose JobManager came back registers within seconds (defaults back off to 30 s).
        "cluster.registration.max-timeout": "5 s",
        "cluster.registration.error-delay": "2 s",
        "cluster.registration.refused-registration-delay": "2 s",
        # No jar upload or run through the REST API or web UI: `flink run` submits through POST /jobs.
        "web.submit.enable": False,
        "table.local-time-zone": "UTC",
    }
