"""Flink settings both stacks share, as flat config.yaml keys: recovery, retention, and what the REST API allows.

Each stack decides only where the cluster lives and how big it is (a ClusterSpec); stack/flink.py
and docker/flink/flink.py both render their config.yaml with cluster_options and write_config.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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


@dataclass(frozen=True)
class ClusterSpec:
    """Where a Flink cluster lives and how big it is: what each stack decides, the rest is shared."""

    jobmanager_host: str
    bind_host: str
    rpc_port: int
    rest_port: int
    task_slots: int
    parallelism: int
    jobmanager_memory: str
    taskmanager_memory: str
    managed_fraction: float
    checkpoints_uri: str
    savepoints_uri: str


# The shipped config.yaml points these at localhost; the ClusterSpec decides them.
_ADDRESS_KEYS = (
    "jobmanager.rpc.address",
    "rest.address",
    "taskmanager.host",
    "jobmanager.bind-host",
    "taskmanager.bind-host",
    "rest.bind-address",
)
_LOG_CONFIGS = ("log4j.properties", "log4j-console.properties", "log4j-cli.properties")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def cluster_options(flink_home: Path, spec: ClusterSpec) -> dict[str, object]:
    """Flat config.yaml keys: the distribution's own, then the shared ones, then the spec's."""
    shipped = _flatten(yaml.safe_load((flink_home / "conf" / "config.yaml").read_text()) or {})
    for key in _ADDRESS_KEYS:
        shipped.pop(key, None)
    java_opts = str(shipped.get("env.java.opts.all", ""))
    return (
        shipped
        | shared_options(spec.checkpoints_uri, spec.savepoints_uri)
        | {
            # Flink's own module-access flags, plus UTC so timestamps mean the same in every JVM.
            "env.java.opts.all": f"{java_opts} -Duser.timezone=UTC".strip(),
            "jobmanager.bind-host": spec.bind_host,
            "jobmanager.rpc.address": spec.jobmanager_host,
            "jobmanager.rpc.port": spec.rpc_port,
            "jobmanager.memory.process.size": spec.jobmanager_memory,
            "taskmanager.bind-host": spec.bind_host,
            "taskmanager.numberOfTaskSlots": spec.task_slots,
            "taskmanager.memory.process.size": spec.taskmanager_memory,
            "taskmanager.memory.managed.fraction": spec.managed_fraction,
            "parallelism.default": spec.parallelism,
            "rest.address": spec.jobmanager_host,
            "rest.bind-address": spec.bind_host,
            "rest.port": spec.rest_port,
        }
    )


def write_config(flink_home: Path, conf_dir: Path, options: dict[str, object]) -> None:
    """config.yaml (flat keys, JSON scalars: valid YAML Flink reads as-is) beside the shipped log4j files."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    for name in _LOG_CONFIGS:
        shutil.copyfile(flink_home / "conf" / name, conf_dir / name)
    lines = [f"{key}: {json.dumps(value)}\n" for key, value in sorted(options.items())]
    (conf_dir / "config.yaml").write_text("".join(lines))
