"""Entry point of the Flink image: one role per container, and each role's health check.

    flink.py jobmanager | taskmanager | job         run the role (the container's command)
    flink.py health jobmanager | taskmanager | job  exit 0 when the role is healthy

Configuration: wikistream/flink_config.py renders config.yaml into FLINK_CONF_DIR at start, as it
does for the embedded stack, from the ClusterSpec in this container's environment (set by
modules/flink: the names of config/stack.env, plus FLINK_JOBMANAGER_HOST and
FLINK_TASKMANAGER_RESOURCE_ID), then this image's options.

The `job` role is the job keeper of wikistream/job_keeper.py (the embedded stack runs the same
one): it submits the PyFlink job (flink_job/main.py), resuming from the newest savepoint or retained
checkpoint on the /flink-data volume, resubmits it when the JobManager lost it, records the
pipeline's health in PostgreSQL, runs the retention (wikistream/retention.py), and on SIGTERM
stops the job with a savepoint, so the next start resumes where this one stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

APP = Path("/opt/wikistream")
# The repository's packages, laid out as in the repository (build-context.sh).
sys.path.insert(0, str(APP))

# The health checks run every few seconds and need only these two light modules; the job role
# imports the rest when it starts.
from wikistream.flink_config import ClusterSpec, cluster_options, write_config  # noqa: E402 - importable only once APP is on the path
from wikistream.flink_rest import FlinkRest, FlinkRestError  # noqa: E402 - the same

FLINK_DATA = Path("/flink-data")
CHECKPOINTS = FLINK_DATA / "checkpoints"
SAVEPOINTS = FLINK_DATA / "savepoints"
KEEPER_LOG = FLINK_DATA / "job-keeper.json"
JOB_ENTRYPOINT = APP / "flink_job" / "main.py"

IMAGE_OPTIONS: dict[str, object] = {
    "blob.server.port": 6124,
    "python.executable": sys.executable,
    "python.client.executable": sys.executable,
    # A TaskManager container may start minutes before its JobManager is healthy.
    "taskmanager.registration.timeout": "5 min",
}

log = logging.getLogger("flink.py")


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def conf_dir() -> Path:
    return Path(os.environ.get("FLINK_CONF_DIR", "/tmp/flink-conf"))


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"flink.py: {name} is not set (modules/flink sets it for every container)")
    return value


def cluster_spec() -> ClusterSpec:
    return ClusterSpec(
        jobmanager_host=_required("FLINK_JOBMANAGER_HOST"),
        # Other containers reach each role through the stack's network; only REST is published.
        bind_host="0.0.0.0",
        rpc_port=int(_required("FLINK_RPC_PORT")),
        rest_port=int(_required("FLINK_REST_PORT")),
        task_slots=int(_required("FLINK_TASK_SLOTS")),
        parallelism=int(_required("JOB_PARALLELISM")),
        jobmanager_memory=_required("FLINK_JOBMANAGER_MEMORY"),
        taskmanager_memory=_required("FLINK_TASKMANAGER_MEMORY"),
        managed_fraction=float(_required("FLINK_MANAGED_MEMORY_FRACTION")),
        checkpoints_uri=CHECKPOINTS.as_uri(),
        savepoints_uri=SAVEPOINTS.as_uri(),
    )


def configure() -> None:
    options = cluster_options(flink_home(), cluster_spec()) | IMAGE_OPTIONS
    resource_id = os.environ.get("FLINK_TASKMANAGER_RESOURCE_ID")
    if resource_id:
        options["taskmanager.resource-id"] = resource_id
    write_config(flink_home(), conf_dir(), options)


def flink_env() -> dict[str, str]:
    env = dict(os.environ)
    env["FLINK_HOME"] = str(flink_home())
    env["FLINK_CONF_DIR"] = str(conf_dir())
    env["PYFLINK_CLIENT_EXECUTABLE"] = sys.executable
    return env


def rest_url() -> str:
    return f"http://{_required('FLINK_JOBMANAGER_HOST')}:{_required('FLINK_REST_PORT')}"


# --- the job role --------------------------------------------------------------------------------
def submit(base: str, restore: Path | None) -> str | None:
    host_port = base.split("://", 1)[1]
    command = ["bash", str(flink_home() / "bin" / "flink"), "run", "-m", host_port, "-d"]
    if restore is not None:
        command += ["-s", restore.as_uri()]
    command += ["-py", str(JOB_ENTRYPOINT), "-pyfs", str(APP)]
    log.info("submitting: %s", " ".join(command[1:]))
    result = subprocess.run(command, env=flink_env(), cwd=APP, capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        if "JobID" in line:
            return line.split("JobID")[-1].strip()
    log.error("submission failed:\n%s", "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:]))
    return None


def run_job() -> int:
    from flink_job.settings import JobSettings
    from wikistream.health import HealthThresholds, observe, start_recording
    from wikistream.job_keeper import JobKeeper, KeeperLog, RestorePoints
    from wikistream.retention import start_maintenance
    from wikistream.settings import stack_settings

    configure()
    base = rest_url()
    job = JobSettings()  # type: ignore[call-arg]  # values come from the container's environment
    rest = FlinkRest(base)
    keeper = JobKeeper(
        rest,
        job.job_name,
        RestorePoints(SAVEPOINTS, CHECKPOINTS),
        lambda restore: submit(base, restore),
        required_slots=job.parallelism,
        startup_timeout_s=float(os.environ.get("JOB_STARTUP_TIMEOUT", "300")),
        allow_fresh_start=os.environ.get("JOB_ALLOW_FRESH_START") == "1",
        log_path=KEEPER_LOG,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    health_rest = FlinkRest(base)
    start_recording(
        lambda: observe(
            health_rest,
            job.job_name,
            kafka_bootstrap=job.kafka_bootstrap_servers,
            topic=job.kafka_topic,
            group=job.kafka_group_id,
            postgres_dsn=job.libpq_dsn(),
            thresholds=HealthThresholds(),
            resubmissions_10m=KeeperLog.load(KEEPER_LOG).resubmissions_since(time.time() - 600),
            # Docker keeps every volume of the stack on the filesystem of this one.
            data_paths=[FLINK_DATA],
        ),
        job.libpq_dsn(),
        stopping,
    )
    start_maintenance(job.libpq_dsn(), stopping, stack_settings().maintenance_interval_s)
    keeper.run(stopping)
    # `docker stop` (make down): the next start resumes from this savepoint.
    for live in rest.live_jobs(job.job_name):
        if live.state == "RUNNING":
            try:
                log.info(
                    "job %s stopped with savepoint %s",
                    live.job_id,
                    rest.stop_with_savepoint(live.job_id, SAVEPOINTS.as_uri()),
                )
            except FlinkRestError as error:
                log.warning("%s; it resumes from its last checkpoint", error)
    return 0


# --- health --------------------------------------------------------------------------------------
def health(role: str) -> int:
    if role == "jobmanager":
        return 0 if FlinkRest(f"http://127.0.0.1:{_required('FLINK_REST_PORT')}").reachable() else 1
    rest = FlinkRest(rest_url())
    if role == "taskmanager":
        managers = (rest.get("/taskmanagers") or {}).get("taskmanagers", [])
        resource_id = _required("FLINK_TASKMANAGER_RESOURCE_ID")
        return 0 if any(tm.get("id") == resource_id for tm in managers) else 1
    if role == "job":
        live = rest.live_jobs(os.environ["FLINK_JOB_NAME"])
        return 0 if live and rest.all_tasks_running(live[0].job_id) else 1
    print(f"unknown role {role}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO, format="[flink.py] %(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    role = argv[1] if len(argv) > 1 else "jobmanager"
    if role == "health":
        return health(argv[2] if len(argv) > 2 else "jobmanager")
    if role == "job":
        return run_job()
    if role in ("jobmanager", "taskmanager"):
        configure()
        script = flink_home() / "bin" / f"{role}.sh"
        os.execvpe("bash", ["bash", str(script), "start-foreground"], flink_env())
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
