"""Fixtures of the container stack tests: Terraform on a state of its own, and a whole applied stack.

The applied stack uses its own name prefix (wstest-<random>), free host ports and its own state and
.terraform directory, so it never touches a stack started with `make up`. It is destroyed in the
fixture's finalizer even when a test fails; whatever terraform could not remove is removed by name.

WIKISTREAM_REQUIRE_TERRAFORM=1 (CI) turns "Terraform/provider/Docker not available" skips into
failures. EXTRA_CA_CERT is passed to the image builds (extra_ca_cert_path), as with `make up`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.containers import TerraformStack, terraform_binary
from stack.preflight import PrerequisiteError, free_port
from tests.terraform.tfdriver import TerraformRun, docker_names, force_remove
from wikistream.settings import REPO_ROOT


def unavailable(reason: str) -> None:
    if os.environ.get("WIKISTREAM_REQUIRE_TERRAFORM") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def docker_running() -> bool:
    return (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    )


@pytest.fixture(scope="session")
def terraform() -> str:
    try:
        return terraform_binary()
    except PrerequisiteError as error:
        unavailable(str(error))
        raise


@pytest.fixture(scope="session")
def initialized(terraform: str) -> Iterator[TerraformRun]:
    """terraform init of terraform/ into a temporary data directory and state path (nothing applied)."""
    work = Path(tempfile.mkdtemp(prefix="wikistream-tfinit-"))
    run = TerraformRun(work)
    code, out, err = run.init()
    if code != 0:
        shutil.rmtree(work, ignore_errors=True)
        unavailable(
            f"terraform init failed (provider mirror missing? run 'make tf-tools'):\n{out[-1500:]}\n{err[-1500:]}"
        )
    yield run
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def applied_stack(terraform: str) -> Iterator[TerraformRun]:
    """terraform apply of the whole stack (Metabase off) under a test prefix; destroyed afterwards."""
    if not docker_running():
        unavailable("no Docker engine answers (docker info failed): run .ci/terraform.sh")
    if not any((REPO_ROOT / "jars" / "target" / "kafka").glob("*.jar")):
        unavailable("the jars are missing: run 'make jars' (make test does)")
    prefix = f"wstest-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    run = TerraformRun(
        work,
        prefix=prefix,
        variables={
            "name_prefix": prefix,
            "enable_metabase": False,
            "producer_user_source": "offline",
            "producer_rate": 20,
            "extra_ca_cert_path": os.environ.get("EXTRA_CA_CERT", ""),
            "stack_env_overrides": {
                "POSTGRES_PORT": str(free_port()),
                "KAFKA_PORT": str(free_port()),
                "FLINK_REST_PORT": str(free_port()),
                "METABASE_PORT": str(free_port()),
                "USERS_COUNT": "500",
            },
        },
    )
    try:
        code, out, err = run.init()
        assert code == 0, f"terraform init failed:\n{out[-3000:]}\n{err[-3000:]}"
        code, out, err = run.apply()
        if code != 0:
            logs = "\n".join(
                f"--- docker logs {name}\n"
                + subprocess.run(
                    ["docker", "logs", "--tail", "40", name], capture_output=True, text=True, check=False
                ).stderr[-3000:]
                for name in docker_names("container", prefix)
            )
            pytest.fail(f"terraform apply failed:\n{out[-5000:]}\n{err[-5000:]}\n{logs}")
        yield run
    finally:
        destroy_and_clean(run, prefix)
        shutil.rmtree(work, ignore_errors=True)


def destroy_and_clean(run: TerraformRun, prefix: str) -> None:
    """terraform destroy; then anything with the prefix that is still there goes by name (and fails the test)."""
    code, out, err = run.destroy() if run.state.exists() else (0, "", "")
    leftovers = force_remove(prefix)
    shutil.rmtree(REPO_ROOT / "build" / "docker" / prefix, ignore_errors=True)
    assert code == 0, f"terraform destroy failed:\n{out[-3000:]}\n{err[-3000:]}"
    assert not leftovers, f"terraform destroy left these behind (now removed): {leftovers}"


@pytest.fixture(scope="module")
def stack_view(applied_stack: TerraformRun) -> TerraformStack:
    """stack.containers' view of the test stack (its state file)."""
    return TerraformStack(state=applied_stack.state)
