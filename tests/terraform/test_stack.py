"""The container stack for real: terraform apply (Metabase off), clicks in PostgreSQL, destroy, nothing left.

One stack under a test prefix (wstest-<random>) and free host ports is applied for this module
(tests/terraform/conftest.py) and destroyed at the end, also when a test fails. Tests run in file
order; the last one destroys the stack itself and checks that nothing with its prefix is left.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
import urllib.request
import uuid

import psycopg2
import pytest
from kafka import KafkaProducer

from chaos.matrix import run_fault
from chaos.target import FAULTS, container_target
from stack.containers import (
    TerraformStack,
    container_count_rows,
    container_health,
    container_stack_running,
    container_status,
)
from stack.postgres import server_version
from tests.flink_rest_probe import assert_jar_upload_refused, probe_rest
from tests.terraform.conftest import destroy_and_clean
from tests.terraform.tfdriver import TerraformRun, docker_names
from wikistream.events import ClickEvent
from wikistream.postgres import libpq_dsn
from wikistream.settings import stack_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

DEADLINE_S = 180.0
FAULT_EVENTS = 1_000
FAULT_RATE = 100.0


def admin_dsn(outputs: dict) -> str:
    return outputs["postgres_admin_dsn"] + " connect_timeout=5"


def scalar(dsn: str, query: str, *args: object) -> int:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query, args)
        return int(cur.fetchone()[0])


def test_apply_returns_with_the_job_running(applied_stack: TerraformRun) -> None:
    outputs = applied_stack.outputs()
    with urllib.request.urlopen(f"{outputs['flink_ui_url']}/jobs/overview", timeout=10) as response:
        jobs = json.loads(response.read())["jobs"]
    assert [job["state"] for job in jobs if job["name"] == outputs["flink_job_name"]] == ["RUNNING"]
    for name in [*outputs["containers"].values(), *outputs["flink_containers"]]:
        health = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Health.Status}}", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert health == "healthy", name


def test_published_ports_listen_on_localhost_only(applied_stack: TerraformRun) -> None:
    outputs = applied_stack.outputs()
    for name in [*outputs["containers"].values(), *outputs["flink_containers"]]:
        ports = json.loads(
            subprocess.run(
                ["docker", "inspect", "--format", "{{json .NetworkSettings.Ports}}", name],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        host_ips = {binding["HostIp"] for bindings in (ports or {}).values() if bindings for binding in bindings}
        assert host_ips <= {"127.0.0.1"}, (name, host_ips)


def test_schema_and_seeded_users_are_in_the_database(applied_stack: TerraformRun) -> None:
    dsn = admin_dsn(applied_stack.outputs())
    assert scalar(dsn, "SELECT count(*) FROM users") == 500
    # The reader role logs in with its generated password (SCRAM) and reads the views, nothing else.
    outputs = applied_stack.outputs()
    postgres = outputs["postgres"]
    reader = psycopg2.connect(
        libpq_dsn(
            host=postgres["host"],
            port=postgres["port"],
            dbname=postgres["database"],
            user=postgres["users"]["reader"],
            password=outputs["postgres_passwords"]["reader"],
        )
    )
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT count(*) FROM v_latest_clicks")
        for statement in ("SELECT count(*) FROM users", "DELETE FROM clicks"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), reader.cursor() as cur:
                cur.execute(statement)
            reader.rollback()
    finally:
        reader.close()


def test_no_password_in_any_container_environment_and_no_trust(applied_stack: TerraformRun) -> None:
    """Passwords reach containers as read-only files (docker inspect shows none); pg_hba trusts no one;
    the server is the embedded stack's (same wheel, same major)."""
    outputs = applied_stack.outputs()
    passwords = list(outputs["postgres_passwords"].values())
    names = [*outputs["containers"].values(), *outputs["flink_containers"]]
    for name in names:
        inspected = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout
        assert not [p for p in passwords if p in inspected], f"a password in docker inspect {name}"
    postgres = outputs["containers"]["postgres"]
    hba = subprocess.run(
        ["docker", "exec", postgres, "sh", "-c", 'grep -v "^#" "$PGDATA/pg_hba.conf"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "trust" not in hba and "scram-sha-256" in hba, hba
    secrets = subprocess.run(
        ["docker", "exec", postgres, "stat", "-c", "%a %U", "/run/secrets/POSTGRES_WRITER_PASSWORD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert secrets == ["444", "root"]
    backup = applied_stack.state.with_name("terraform.tfstate.backup")
    for state in [applied_stack.state, *([backup] if backup.exists() else [])]:
        assert stat.S_IMODE(state.stat().st_mode) == 0o600, f"{state} holds the passwords"
    version = scalar(admin_dsn(outputs), "SELECT current_setting('server_version_num')::int")
    assert version // 10000 == int(server_version().split(".")[0])


def _docker_logs(name: str) -> str:
    return subprocess.run(
        ["docker", "logs", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True
    ).stdout


def test_no_password_in_flink_rest_or_container_logs_and_no_jar_upload(applied_stack: TerraformRun) -> None:
    outputs = applied_stack.outputs()
    names = [*outputs["containers"].values(), *outputs["flink_containers"]]
    logs = [(f"docker logs {name}", _docker_logs(name)) for name in names]
    probe = probe_rest(outputs["flink_ui_url"], outputs["flink_job_name"], outputs["postgres_passwords"], logs)
    assert probe.leaks == []
    assert probe.answered >= probe.paths * 0.8, f"only {probe.answered} of {probe.paths} endpoints answered"
    assert_jar_upload_refused(outputs["flink_ui_url"])


def test_producer_clicks_arrive_in_postgres(applied_stack: TerraformRun) -> None:
    dsn = admin_dsn(applied_stack.outputs())
    first = scalar(dsn, "SELECT count(*) FROM clicks")
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if scalar(dsn, "SELECT count(*) FROM clicks") > first:
            return
        time.sleep(2)
    pytest.fail(f"no new clicks within {DEADLINE_S:.0f} s (started at {first})")


def test_events_sent_to_the_published_kafka_port_reach_postgres(applied_stack: TerraformRun) -> None:
    outputs = applied_stack.outputs()
    tag = f"tfstack-{uuid.uuid4().hex[:8]}"
    now_ms = int(time.time() * 1000)
    events = [
        ClickEvent(
            event_id=f"{tag}-{i}",
            user_id=f"{tag}-user",
            session_id=f"{tag}-session",
            seq=i + 1,
            prev="other-search" if i == 0 else f"Page_{i}",
            curr=f"Page_{i + 1}",
            type="external" if i == 0 else "link",
            event_time_ms=now_ms - 5_000 + i,
        )
        for i in range(10)
    ]
    producer = KafkaProducer(bootstrap_servers=outputs["kafka_bootstrap_servers"], acks="all")
    try:
        sent = [
            producer.send(
                outputs["kafka_topic"],
                key=event.user_id.encode(),
                value=event.to_json(),
                timestamp_ms=event.event_time_ms,
            )
            for event in events
        ]
        producer.flush(timeout=30)
        stamps = [future.get(timeout=30).timestamp for future in sent]
    finally:
        producer.close()
    # LogAppendTime: the broker's clock stamps each record, not the sender's 5 s old event time.
    assert min(stamps) >= now_ms, (stamps, now_ms)
    dsn = admin_dsn(outputs)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if scalar(dsn, "SELECT count(*) FROM clicks WHERE event_id LIKE %s", f"{tag}-%") == len(events):
            return
        time.sleep(2)
    pytest.fail(f"the {len(events)} events sent to {outputs['kafka_bootstrap_servers']} did not all arrive")


def test_stack_containers_api_reads_the_state(applied_stack: TerraformRun) -> None:
    view = TerraformStack(state=applied_stack.state)
    assert container_stack_running(view)
    status = dict(container_status(view))
    assert status[f"{applied_stack.prefix}-postgres"] == "running (healthy)"
    assert status["flink-job"].startswith("RUNNING")
    counts = container_count_rows(view)
    assert counts["users"] == 500 and counts["clicks"] > 0


def test_a_second_apply_changes_nothing(applied_stack: TerraformRun) -> None:
    """Images are rebuilt only when their sources change: an unchanged checkout plans no change."""
    assert applied_stack.plan_exit_code() == 0, applied_stack.log[-1]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_killed_container_process_comes_back_and_every_event_lands_exactly_once(
    applied_stack: TerraformRun, fault: str
) -> None:
    """kill -9 of the container's main process by its host pid: Docker's restart policy and the job
    keeper bring it back, and every event lands exactly once in every table within 120 s."""
    target = container_target(applied_stack.outputs(), stack_settings().kafka_topic_partitions)
    result = run_fault(target, fault, FAULT_EVENTS, FAULT_RATE, deadline_s=180)
    landing = result.landing
    print(f"{fault}: {landing}; back after {[kill.back_s for kill in result.kills]} s")  # the figures, with -s
    assert result.failed_deliveries == 0
    assert result.kills and result.kills[0].back_s is not None, f"{fault} did not come back"
    # The producer's fault counts the producer's own run (chaos/README.md): its size is what it sent.
    assert fault == "producer" or landing.sent == FAULT_EVENTS
    assert landing.exactly_once, landing
    assert landing.all_landed_s is not None and landing.all_landed_s <= 120, landing


def test_container_status_reports_the_pipeline(applied_stack: TerraformRun) -> None:
    health = container_health(TerraformStack(state=applied_stack.state))
    assert health is not None
    assert health.job_state == "RUNNING" and health.tasks_running == health.tasks_total > 0, health.lines()


def test_destroy_leaves_nothing_behind(applied_stack: TerraformRun) -> None:
    destroy_and_clean(applied_stack, applied_stack.prefix)
    assert not container_stack_running(TerraformStack(state=applied_stack.state))
    for kind in ("container", "volume", "network"):
        assert docker_names(kind, applied_stack.prefix) == [], kind
