"""Entry point of the Flink image: one role per container, and each role's health check.

    flink.py jobmanager | taskmanager | job         run the role (the container's command)
    flink.py health jobmanager | taskmanager | job  exit 0 when the role is healthy

Configuration: the config.yaml shipped inside pyflink, then this image's defaults, then the JSON
object in FLINK_CONF_JSON (flat Flink keys, set per container by Terraform), written to
FLINK_CONF_DIR at start.

The `job` role submits the PyFlink job (flink_job/main.py) to the JobManager, resuming from the
newest savepoint or retained checkpoint on the /flink-data volume, waits for it to be RUNNING,
watches it (resubmitting when it is gone, e.g. after a JobManager restart), and on SIGTERM stops
it with a savepoint, so the next start resumes where this one stopped.
Standard library + PyYAML only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

FLINK_DATA = Path("/flink-data")
CHECKPOINTS = FLINK_DATA / "checkpoints"
SAVEPOINTS = FLINK_DATA / "savepoints"
APP = Path("/opt/wikistream")
JOB_ENTRYPOINT = APP / "flink_job" / "main.py"
LIVE_STATES = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "FAILING", "CANCELLING", "RECONCILING")

IMAGE_DEFAULTS: dict[str, object] = {
    "jobmanager.bind-host": "0.0.0.0",
    "taskmanager.bind-host": "0.0.0.0",
    "rest.bind-address": "0.0.0.0",
    "blob.server.port": 6124,
    "jobmanager.execution.failover-strategy": "region",
    "execution.checkpointing.dir": CHECKPOINTS.as_uri(),
    "execution.checkpointing.savepoint-dir": SAVEPOINTS.as_uri(),
    # Keep checkpoints when a job is cancelled or the cluster dies, to resume from.
    "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
    "execution.checkpointing.num-retained": 3,
    "table.local-time-zone": "UTC",
    "python.executable": sys.executable,
    "python.client.executable": sys.executable,
}


def log(message: str) -> None:
    print(f"[flink.py] {message}", flush=True)


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def settings() -> dict[str, object]:
    shipped = _flatten(yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text()) or {})
    # The shipped file points everything at localhost; in a container the defaults below decide.
    for key in (
        "jobmanager.rpc.address",
        "rest.address",
        "taskmanager.host",
        "jobmanager.bind-host",
        "taskmanager.bind-host",
        "rest.bind-address",
    ):
        shipped.pop(key, None)
    merged = {**shipped, **IMAGE_DEFAULTS}
    java_opts = str(shipped.get("env.java.opts.all", ""))
    merged["env.java.opts.all"] = f"{java_opts} -Duser.timezone=UTC".strip()
    merged.update(json.loads(os.environ.get("FLINK_CONF_JSON") or "{}"))
    return merged


def write_config() -> dict[str, object]:
    conf = settings()
    conf_dir = Path(os.environ.get("FLINK_CONF_DIR", "/tmp/flink-conf"))
    conf_dir.mkdir(parents=True, exist_ok=True)
    for name in ("log4j.properties", "log4j-console.properties", "log4j-cli.properties"):
        shutil.copyfile(flink_home() / "conf" / name, conf_dir / name)
    # Flat keys, JSON scalars: valid YAML that Flink reads as-is.
    lines = [f"{key}: {json.dumps(value)}\n" for key, value in sorted(conf.items())]
    (conf_dir / "config.yaml").write_text("".join(lines))
    return conf


def flink_env() -> dict[str, str]:
    env = dict(os.environ)
    env["FLINK_HOME"] = str(flink_home())
    env.setdefault("FLINK_CONF_DIR", "/tmp/flink-conf")
    env["PYFLINK_CLIENT_EXECUTABLE"] = sys.executable
    return env


# --- REST ----------------------------------------------------------------------------------------
def rest_url(conf: dict[str, object]) -> str:
    return (
        os.environ.get("FLINK_REST_URL")
        or f"http://{conf.get('rest.address', '127.0.0.1')}:{conf.get('rest.port', 8081)}"
    )


def rest(base: str, path: str, body: dict | None = None, timeout: float = 5.0) -> dict | None:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - fixed http URL
            return json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def find_job(base: str, name: str) -> tuple[str, str] | None:
    """(job id, state) of the newest live job with this name, else None."""
    overview = rest(base, "/jobs/overview") or {"jobs": []}
    live = [job for job in overview["jobs"] if job["name"] == name and job["state"] in LIVE_STATES]
    if not live:
        return None
    newest = max(live, key=lambda job: job["start-time"])
    return newest["jid"], newest["state"]


def job_running(base: str, job_id: str) -> bool:
    details = rest(base, f"/jobs/{job_id}")
    return (
        bool(details)
        and details["state"] == "RUNNING"
        and all(vertex["status"] == "RUNNING" for vertex in details["vertices"])
    )


def job_state(base: str, job_id: str) -> str | None:
    details = rest(base, f"/jobs/{job_id}")
    return details["state"] if details else None


def job_failure(base: str, job_id: str) -> str:
    root = (rest(base, f"/jobs/{job_id}/exceptions") or {}).get("root-exception")
    return root.splitlines()[0] if root else "no error reported"


# --- the job role --------------------------------------------------------------------------------
def latest_restore_point() -> Path | None:
    candidates = [
        meta.parent for base in (SAVEPOINTS, CHECKPOINTS) if base.exists() for meta in base.glob("**/_metadata")
    ]
    return max(candidates, key=lambda path: (path / "_metadata").stat().st_mtime, default=None)


def submit(base: str, restore: Path | None) -> str | None:
    host_port = base.split("://", 1)[1]
    command = ["bash", str(flink_home() / "bin" / "flink"), "run", "-m", host_port, "-d"]
    if restore is not None:
        command += ["-s", restore.as_uri()]
    command += ["-py", str(JOB_ENTRYPOINT), "-pyfs", str(APP)]
    log("submitting: " + " ".join(command[1:]))
    result = subprocess.run(command, env=flink_env(), cwd=APP, capture_output=True, text=True, check=False)  # noqa: S603
    for line in result.stdout.splitlines():
        if "JobID" in line:
            return line.split("JobID")[-1].strip()
    log("submission failed:\n" + "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:]))
    return None


def wait_running(base: str, job_id: str, timeout: float, stopping: list[bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping:
        if job_running(base, job_id):
            return True
        if job_state(base, job_id) in ("FAILED", "CANCELED", "FINISHED"):
            return False
        time.sleep(1)
    return False


def stop_with_savepoint(base: str, job_id: str, timeout: float = 120.0) -> None:
    trigger = rest(base, f"/jobs/{job_id}/stop", {"targetDirectory": SAVEPOINTS.as_uri(), "drain": False}, timeout=10)
    if not trigger or "request-id" not in trigger:
        log(f"stop with savepoint could not be triggered for job {job_id}; it resumes from its last checkpoint")
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = rest(base, f"/jobs/{job_id}/savepoints/{trigger['request-id']}") or {}
        if status.get("status", {}).get("id") == "COMPLETED":
            operation = status.get("operation", {})
            if "location" in operation:
                log(f"job {job_id} stopped with savepoint {operation['location']}")
            else:
                log(
                    f"job {job_id}: savepoint failed ({operation.get('failure-cause', {}).get('class', '?')}); "
                    "it resumes from its last checkpoint"
                )
            return
        time.sleep(0.5)
    log(f"job {job_id}: no savepoint within {timeout:.0f} s; it resumes from its last checkpoint")


def wait_for_slots(base: str, slots: int, stopping: list[bool]) -> None:
    while not stopping:
        overview = rest(base, "/overview")
        if overview and overview.get("slots-total", 0) >= slots:
            return
        time.sleep(1)


def run_job() -> int:
    conf = write_config()
    base = rest_url(conf)
    name = os.environ["FLINK_JOB_NAME"]
    parallelism = int(os.environ.get("JOB_PARALLELISM", "1"))
    startup_timeout = float(os.environ.get("JOB_STARTUP_TIMEOUT", "300"))
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))

    log(f"waiting for {parallelism} task slots at {base}")
    wait_for_slots(base, parallelism, stopping)
    job_id: str | None = None
    while not stopping:
        found = find_job(base, name)
        if found is not None:
            job_id = found[0]
            if job_id is not None and found[1] != "RUNNING":
                wait_running(base, job_id, startup_timeout, stopping)
        else:
            restore = latest_restore_point()
            if restore is not None:
                log(f"resuming from {restore}")
            job_id = submit(base, restore)
            ok = job_id is not None and wait_running(base, job_id, startup_timeout, stopping)
            if not ok and restore is not None and not stopping:
                # State that no longer fits the job (its code changed) must not keep the stack down.
                log(
                    f"WARNING: the job did not start from {restore} "
                    f"({job_failure(base, job_id) if job_id else 'not submitted'}); starting it WITHOUT that state"
                )
                if job_id is not None:
                    rest(base, f"/jobs/{job_id}?mode=cancel", {})
                job_id = submit(base, None)
                ok = job_id is not None and wait_running(base, job_id, startup_timeout, stopping)
            if not ok and not stopping:
                log(f"the job is not RUNNING: {job_failure(base, job_id) if job_id else 'not submitted'}")
                return 1
        if job_id is not None:
            log(f"job {job_id} ({name}) is RUNNING")
        while not stopping and job_id is not None:
            state = job_state(base, job_id)
            if state not in LIVE_STATES:
                log(f"job {job_id} is {state or 'gone'}; submitting it again")
                break
            time.sleep(2)
    if job_id is not None and job_state(base, job_id) == "RUNNING":
        stop_with_savepoint(base, job_id)
    return 0


# --- health --------------------------------------------------------------------------------------
def health(role: str) -> int:
    conf = settings()
    if role == "jobmanager":
        local = f"http://127.0.0.1:{conf.get('rest.port', 8081)}"
        return 0 if rest(local, "/overview") is not None else 1
    base = rest_url(conf)
    if role == "taskmanager":
        managers = (rest(base, "/taskmanagers") or {}).get("taskmanagers", [])
        return 0 if any(tm.get("id") == conf.get("taskmanager.resource-id") for tm in managers) else 1
    if role == "job":
        found = find_job(base, os.environ["FLINK_JOB_NAME"])
        return 0 if found is not None and job_running(base, found[0]) else 1
    print(f"unknown role {role}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    role = argv[1] if len(argv) > 1 else "jobmanager"
    if role == "health":
        return health(argv[2] if len(argv) > 2 else "jobmanager")
    if role == "job":
        return run_job()
    if role in ("jobmanager", "taskmanager"):
        write_config()
        script = flink_home() / "bin" / f"{role}.sh"
        os.execvpe("bash", ["bash", str(script), "start-foreground"], flink_env())
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
