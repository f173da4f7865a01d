"""The container stack (Terraform + Docker, `make up`) as `python -m stack status|count-rows` sees it.

Everything comes from the Terraform state of terraform/ (its outputs, read with python-terraform),
from `docker inspect` of the containers those outputs name, and from PostgreSQL on its published
port with the credentials in the outputs. Nothing here starts or stops anything.

    container_stack_running() -> bool                every container of the stack runs
    container_status()        -> [(name, status)]    each container, plus the Flink job's state
    container_health()        -> PipelineHealth      whether data flows (make status)
    container_count_rows()    -> {table: rows}       the same tables as the embedded stack

Another state (tests, a second stack) is selected with TerraformStack(state=...).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
from python_terraform import Terraform

from stack.preflight import PrerequisiteError
from stack.row_counts import count_rows
from wikistream.flink_rest import FlinkRest
from wikistream.health import HealthThresholds, PipelineHealth, observe, recent_resubmissions
from wikistream.settings import REPO_ROOT, cache_dir, stack_settings

TERRAFORM_DIR = REPO_ROOT / "terraform"
CACHE_DIR = cache_dir()


def terraform_binary() -> str:
    """$TERRAFORM, else terraform on PATH, else the one terraform/bootstrap.sh cached."""
    if os.environ.get("TERRAFORM"):
        return os.environ["TERRAFORM"]
    on_path = shutil.which("terraform")
    if on_path:
        return on_path
    cached = sorted(CACHE_DIR.glob("terraform/*/terraform"))
    if cached:
        return str(cached[-1])
    raise PrerequisiteError("terraform is not installed: run 'make tf-tools' (or install Terraform >= 1.11).")


@dataclass
class TerraformStack:
    working_dir: Path = TERRAFORM_DIR
    state: Path | None = None
    _outputs: dict[str, Any] | None = field(default=None, repr=False)

    def outputs(self) -> dict[str, Any]:
        """Output values by name ({} when there is no state, i.e. the stack was never applied)."""
        if self._outputs is None:
            state = self.state or self.working_dir / "terraform.tfstate"
            if not state.exists():
                return {}
            # Read from an empty directory: in terraform/ itself, Terraform would first insist on the
            # providers of its lock file, which a stack applied with another TF_DATA_DIR lacks here.
            with tempfile.TemporaryDirectory() as empty:
                tf = Terraform(working_dir=empty, terraform_bin_path=terraform_binary())
                raw = tf.output(state=str(state.resolve()))
            self._outputs = {name: item["value"] for name, item in (raw or {}).items()}
        return self._outputs

    def container_names(self) -> list[str]:
        outputs = self.outputs()
        return [*outputs.get("containers", {}).values(), *outputs.get("flink_containers", [])]


def _docker_state(name: str) -> str:
    """'running (healthy)', 'exited', ... or 'missing'."""
    if shutil.which("docker") is None:
        raise PrerequisiteError("docker is not on PATH.")
    result = subprocess.run(
        ["docker", "inspect", "--format", "{{json .State}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return "missing"
    state = json.loads(result.stdout)
    health = (state.get("Health") or {}).get("Status")
    return f"{state['Status']} ({health})" if health else state["Status"]


def _flink_job_state(rest_url: str, job_name: str) -> str:
    rest = FlinkRest(rest_url)
    if not rest.reachable():
        return "not reachable"
    jobs = rest.jobs(job_name)
    return f"{jobs[0].state} ({jobs[0].job_id})" if jobs else "not running"


def container_stack_running(stack: TerraformStack | None = None) -> bool:
    """True when the Terraform state names containers and every one of them is running."""
    stack = stack or TerraformStack()
    try:
        names = stack.container_names()
        return bool(names) and all(_docker_state(name).startswith("running") for name in names)
    except PrerequisiteError:  # no terraform or no docker: no container stack either
        return False


def container_status(stack: TerraformStack | None = None) -> list[tuple[str, str]]:
    """(container, state) for each container of the stack, then ('flink-job', state) and the URLs."""
    stack = stack or TerraformStack()
    outputs = stack.outputs()
    if not outputs:
        return [("container stack", "not created (make up)")]
    rows = [(name, _docker_state(name)) for name in stack.container_names()]
    if not rows:
        return [("container stack", "down (make up); data kept in volumes " + ", ".join(outputs.get("volumes", [])))]
    rows.append(("flink-job", _flink_job_state(outputs["flink_ui_url"], outputs["flink_job_name"])))
    rows.append(("flink-ui", outputs["flink_ui_url"]))
    if outputs.get("metabase_url"):
        rows.append(("metabase", outputs["metabase_url"]))
    postgres = outputs["postgres"]
    rows.append(("postgresql", f"{postgres['host']}:{postgres['port']}/{postgres['database']}"))
    return rows


def container_health(stack: TerraformStack | None = None) -> PipelineHealth | None:
    """Whether data flows through the container stack (None when it is not up), seen from the host."""
    stack = stack or TerraformStack()
    outputs = stack.outputs()
    names = stack.container_names()
    if not names:
        return None
    dsn = outputs["postgres_admin_dsn"] + " connect_timeout=3"
    try:
        resubmitted = recent_resubmissions(dsn)
    except psycopg2.Error:
        resubmitted = 0
    return observe(
        FlinkRest(outputs["flink_ui_url"]),
        outputs["flink_job_name"],
        kafka_bootstrap=outputs["kafka_bootstrap_servers"],
        topic=outputs["kafka_topic"],
        group=stack_settings().kafka_group_id,
        postgres_dsn=dsn,
        thresholds=HealthThresholds(),
        resubmissions_10m=resubmitted,
        services_down=[name for name in names if not _docker_state(name).startswith("running")],
    )


def container_count_rows(stack: TerraformStack | None = None) -> dict[str, int]:
    """Row counts of the main tables, through the published PostgreSQL port as the owner role."""
    stack = stack or TerraformStack()
    outputs = stack.outputs()
    if not outputs.get("containers"):
        raise PrerequisiteError("the container stack is not up: try 'make up'.")
    postgres = outputs["postgres"]
    return count_rows(
        host=postgres["host"],
        port=postgres["port"],
        dbname=postgres["database"],
        user=postgres["users"]["admin"],
        password=outputs["postgres_passwords"]["admin"],
        hint="is the container stack up? Try 'make up'.",
    )
