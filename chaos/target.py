"""A stack under test, as the fault matrix sees it: where to send, where to count, whom to kill.

Either stack: the embedded one (pid files) or the container one (each container's main process,
by its host pid from `docker inspect`; `docker kill` would be a user's stop, which Docker's restart
policy rightly leaves alone).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stack.embedded import EmbeddedStack
from wikistream.postgres import ADMIN_USER, libpq_dsn

FAULTS = ("flink-taskmanager", "flink-jobmanager", "kafka", "postgres", "producer", "job-keeper")


@dataclass(frozen=True)
class Target:
    kind: str
    kafka_bootstrap: str
    topic: str
    partitions: int
    postgres_dsn: str
    # The host pid of a service's main process, None while it is down.
    service_pid: Callable[[str], int | None]
    # Stop (False) or start (True) the stack's own producer: a matrix stream runs alone (run_fault).
    run_producer: Callable[[bool], None]


def embedded_target(stack: EmbeddedStack) -> Target:
    processes = stack.processes()
    settings = stack.settings
    dsn = libpq_dsn(
        host="127.0.0.1",
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=ADMIN_USER,
        password=stack.credentials.admin_password,
    )
    return Target(
        "embedded",
        stack.kafka.bootstrap,
        settings.kafka_topic,
        settings.kafka_topic_partitions,
        dsn,
        lambda service: processes[service].pid(),
        lambda run: _supervise(stack, "producer", run),
    )


def _supervise(stack: EmbeddedStack, service: str, run: bool) -> None:
    if run:
        stack.start_service(service)
    else:
        stack.stop_service(service)


def container_pid(name: str) -> int | None:
    result = subprocess.run(
        ["docker", "inspect", "--format", "{{json .State}}", name], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    state = json.loads(result.stdout)
    return int(state["Pid"]) if state.get("Running") and state.get("Pid") else None


def container_target(outputs: dict[str, Any], partitions: int) -> Target:
    """From the Terraform outputs of a container stack."""
    prefix = outputs["name_prefix"]
    names = {
        "flink-taskmanager": f"{prefix}-flink-taskmanager-1",
        "flink-jobmanager": f"{prefix}-flink-jobmanager",
        "job-keeper": f"{prefix}-flink-job",
        **{service: outputs["containers"][service] for service in ("kafka", "postgres", "producer")},
    }
    return Target(
        "containers",
        outputs["kafka_bootstrap_servers"],
        outputs["kafka_topic"],
        partitions,
        outputs["postgres_admin_dsn"] + " connect_timeout=5",
        lambda service: container_pid(names[service]),
        lambda run: _docker("start" if run else "stop", names["producer"]),
    )


def _docker(command: str, name: str) -> None:
    subprocess.run(["docker", command, name], capture_output=True, text=True, check=True)
