"""No password in Flink's REST API, its web UI's data, or any log file, with the job running.

Every REST endpoint the UI reads for the cluster, the job, its vertices, its checkpoints and its
configuration is fetched (with the ids of the live job, its vertices and its TaskManagers), and so
is every log file of the stack. Jar upload and run through REST are off. Runs on the shared
isolated stack (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from stack.credentials import load_or_create
from stack.layout import Layout
from tests.conftest import RunningStack
from wikistream.settings import stack_settings

pytestmark = pytest.mark.slow

CLUSTER = [
    "/config",
    "/overview",
    "/jobmanager/config",
    "/jobmanager/environment",
    "/jobmanager/metrics",
    "/jobmanager/logs",
    "/jobmanager/log",
    "/jobmanager/stdout",
    "/jobmanager/thread-dump",
    "/taskmanagers",
    "/jobs",
    "/jobs/overview",
    "/jars",
]
JOB = [
    "",
    "/config",
    "/plan",
    "/exceptions",
    "/checkpoints",
    "/checkpoints/config",
    "/accumulators",
    "/metrics",
    "/jobmanager/config",
    "/jobmanager/environment",
    "/jobmanager/log-url",
    "/status",
    "/resource-requirements",
]
VERTEX = ["", "/subtasks/metrics", "/subtasktimes", "/taskmanagers", "/accumulators", "/watermarks", "/backpressure"]
TASKMANAGER = ["", "/logs", "/log", "/stdout", "/metrics", "/thread-dump"]


def _get(base: str, path: str) -> requests.Response:
    return requests.get(base + path, timeout=30)


def _paths(base: str, job_name: str) -> list[str]:
    [job] = [
        j for j in _get(base, "/jobs/overview").json()["jobs"] if j["name"] == job_name and j["state"] == "RUNNING"
    ]
    job_path = f"/jobs/{job['jid']}"
    vertices = [v["id"] for v in _get(base, job_path).json()["vertices"]]
    taskmanagers = [tm["id"] for tm in _get(base, "/taskmanagers").json()["taskmanagers"]]
    return [
        *CLUSTER,
        *(job_path + suffix for suffix in JOB),
        *(f"{job_path}/vertices/{vertex}{suffix}" for vertex in vertices for suffix in VERTEX),
        *(f"/taskmanagers/{tm}{suffix}" for tm in taskmanagers for suffix in TASKMANAGER),
    ]


def test_no_password_in_any_rest_answer_or_log_file(running_stack: RunningStack) -> None:
    credentials = load_or_create(Layout(running_stack.state_dir).secrets_file)
    passwords = {
        "admin": credentials.admin_password,
        "seeder": credentials.seeder_password,
        "writer": credentials.writer_password,
        "reader": credentials.reader_password,
    }
    base = f"http://127.0.0.1:{running_stack.env['FLINK_REST_PORT']}"
    paths = _paths(base, stack_settings().flink_job_name)
    answered = 0
    leaks = []
    for path in paths:
        response = _get(base, path)
        answered += response.ok
        leaks += [f"{role} password in GET {path}" for role, value in passwords.items() if value in response.text]
    logs = [path for path in Path(running_stack.state_dir, "logs").rglob("*") if path.is_file()]
    for log in logs:
        text = log.read_text(errors="replace")
        leaks += [f"{role} password in {log.name}" for role, value in passwords.items() if value in text]
    assert leaks == []
    # The probe saw the job: most endpoints answered, and the logs were there to read.
    assert answered >= len(paths) * 0.8, f"only {answered} of {len(paths)} endpoints answered"
    assert len(logs) >= 5


def test_jar_upload_and_run_are_refused(running_stack: RunningStack) -> None:
    base = f"http://127.0.0.1:{running_stack.env['FLINK_REST_PORT']}"
    upload = requests.post(
        base + "/jars/upload", files={"jarfile": ("x.jar", b"PK\x03\x04", "application/x-java-archive")}, timeout=30
    )
    run = requests.post(base + "/jars/x.jar/run", json={}, timeout=30)
    # Flink answers 400 "POST request not allowed" (upload) and 404 (run) with web.submit.enable off.
    assert not upload.ok and not run.ok, (upload.text, run.text)
    assert "not allowed" in upload.text or upload.status_code == 404, upload.text
