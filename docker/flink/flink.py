"""Entry point of the Flink image: one role per container, and each role's health check.

    flink.py jobmanager | taskmanager | job         run the role (the container's command)
    flink.py health jobmanager | taskmanager | job  exit 0 when the role is healthy

Configuration: the config.yaml shipped inside pyflink, then the settings both stacks share
(wikistream/flink_config.py), then this image's, then the JSON object in FLINK_CONF_JSON (flat
Flink keys, set per container by Terraform), written to FLINK_CONF_DIR at start.

The `job` role is the job keeper of wikistream/job_keeper.py (the embedded stack runs the same
one): it submits the PyFlink job (flink_job/main.py), resuming from the newest savepoint or retained
checkpoint on the /flink-data volume, resubmits it when the JobManager lost it, records the
pipeline's health in PostgreSQL, and on SIGTERM stops the job with a savepoint, so the next start
resumes where this one stopped.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

APP = Path("/opt/wikistream")
# The repository's packages, laid out as in the repository (build-context.sh).
sys.path.insert(0, str(APP))

# The health checks run every few seconds and need only these two light modules; the job role
# imports the rest when it starts.
from wikistream.flink_config import shared_options  # noqa: E402 - importable only once APP is on the path
from wikistream.flink_rest import FlinkRest, FlinkRestError  # noqa: E402 - the same

FLINK_DATA = Path("/flink-data")
CHECKPOINTS = FLINK_DATA / "checkpoints"
SAVEPOINTS = FLINK_DATA / "savepoints"
KEEPER_LOG = FLINK_DATA / "job-keeper.json"
JOB_ENTRYPOINT = APP / "flink_job" / "main.py"

IMAGE_OPTIONS: dict[str, object] = {
    "jobmanager.bind-host": "0.0.0.0",
    "taskmanager.bind-host": "0.0.0.0",
    "rest.bind-address": "0.0.0.0",
    "blob.server.port": 6124,
    "python.executable": sys.executable,
    "python.client.executable": sys.executable,
}

log = logging.getLogger("flink.py")


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
    # The shipped file points everything at localhost; in a container the options below decide.
    for key in (
        "jobmanager.rpc.address",
        "rest.address",
        "taskmanager.host",
        "jobmanager.bind-host",
        "taskmanager.bind-host",
        "rest.bind-address",
    ):
        shipped.pop(key, None)
    merged = {**shipped, **shared_options(CHECKPOINTS.as_uri(), SAVEPOINTS.as_uri()), **IMAGE_OPTIONS}
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


def rest_url(conf: dict[str, object]) -> str:
    return (
        os.environ.get("FLINK_REST_URL")
        or f"http://{conf.get('rest.address', '127.0.0.1')}:{conf.get('rest.port', 8081)}"
    )


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

    conf = write_config()
    base = rest_url(conf)
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
        ),
        job.libpq_dsn(),
        stopping,
    )
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
    conf = settings()
    if role == "jobmanager":
        return 0 if FlinkRest(f"http://127.0.0.1:{conf.get('rest.port', 8081)}").reachable() else 1
    rest = FlinkRest(rest_url(conf))
    if role == "taskmanager":
        managers = (rest.get("/taskmanagers") or {}).get("taskmanagers", [])
        return 0 if any(tm.get("id") == conf.get("taskmanager.resource-id") for tm in managers) else 1
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
        write_config()
        script = flink_home() / "bin" / f"{role}.sh"
        os.execvpe("bash", ["bash", str(script), "start-foreground"], flink_env())
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
