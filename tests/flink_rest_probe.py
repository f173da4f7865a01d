"""Reads every Flink REST endpoint the web UI uses and says where a password shows.

Shared by the embedded stack's test (tests/test_flink_rest_secrets.py) and the container stack's
(tests/terraform/test_stack.py): the endpoints are the cluster's, the live job's, each of its
vertices' and each TaskManager's, with the real ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import requests

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


@dataclass(frozen=True)
class Probe:
    paths: int
    answered: int
    leaks: list[str]


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


def leaks_in(texts: Mapping[str, str], passwords: Mapping[str, str]) -> list[str]:
    return [
        f"{role} password in {where}"
        for where, text in texts.items()
        for role, value in passwords.items()
        if value in text
    ]


def probe_rest(base: str, job_name: str, passwords: Mapping[str, str], logs: Iterable[tuple[str, str]] = ()) -> Probe:
    """GET every endpoint of the running job `job_name` at `base`; `logs` are (name, text) to search too."""
    paths = _paths(base, job_name)
    answers = {path: _get(base, path) for path in paths}
    texts = {f"GET {path}": response.text for path, response in answers.items()} | dict(logs)
    return Probe(
        paths=len(paths),
        answered=sum(response.ok for response in answers.values()),
        leaks=leaks_in(texts, passwords),
    )


def assert_jar_upload_refused(base: str) -> None:
    upload = requests.post(
        base + "/jars/upload", files={"jarfile": ("x.jar", b"PK\x03\x04", "application/x-java-archive")}, timeout=30
    )
    run = requests.post(base + "/jars/x.jar/run", json={}, timeout=30)
    # Flink answers 400 "POST request not allowed" (upload) and 404 (run) with web.submit.enable off.
    assert not upload.ok and not run.ok, (upload.text, run.text)
    assert "not allowed" in upload.text or upload.status_code == 404, upload.text
