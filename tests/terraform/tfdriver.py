"""Driving Terraform from the tests with python-terraform, on a state and data directory of their own.

python-terraform 0.10.1 (2020) predates Terraform 0.15, so three of its defaults break on
Terraform 1.x and are overridden here:
  destroy() passes -force           -> "flag provided but not defined: -force"; use -auto-approve
  apply() without skip_plan asks    -> "error asking for approval: EOF"; pass skip_plan=True
  apply(dir_or_plan=DIR)            -> positional directories are gone; use working_dir
  Terraform(state=...) adds -state  -> to init too: "flag provided but not defined: -state"
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from stack.containers import CACHE_DIR, TERRAFORM_DIR, terraform_binary
from wikistream.settings import REPO_ROOT

MODULES_DIR = REPO_ROOT / "modules"
PROJECT_LABEL = "org.wikistream.project"


def terraform_env(data_dir: Path) -> dict[str, str]:
    """Environment for terraform: own .terraform directory, the provider mirror if there is one."""
    env = {"TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    rc = CACHE_DIR / "terraform.rc"
    if rc.exists():
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    return env


@dataclass
class TerraformRun:
    """terraform in terraform/ with its own TF_DATA_DIR and -state file (never the user's)."""

    work_dir: Path
    variables: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.work_dir / "terraform.tfstate"

    @property
    def env(self) -> dict[str, str]:
        return terraform_env(self.work_dir / ".terraform")

    def _tf(self) -> Terraform:
        return Terraform(
            working_dir=str(TERRAFORM_DIR),
            terraform_bin_path=terraform_binary(),
            variables=self.variables,
            state=str(self.state),
        )

    def _call(self, method: str, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)  # python-terraform passes os.environ to terraform
        try:
            code, out, err = getattr(self._tf(), method)(*args, capture_output=True, **kwargs)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.log.append(f"$ terraform {method} -> {code}\n{out[-4000:]}\n{err[-4000:]}")
        return code, out, err

    def init(self) -> tuple[int, str, str]:
        # No backend change: only the data directory (providers, modules) is this run's own.
        return self._call("init", reconfigure=None, backend=None, state=None)

    def _write_state(self, method: str, **kwargs: Any) -> tuple[int, str, str]:
        """Like `make up`/`make down`: an existing state made 0600, Terraform run under umask 077."""
        make_state_private(self.state)
        previous = os.umask(0o077)
        try:
            return self._call(method, **kwargs)
        finally:
            os.umask(previous)

    def apply(self) -> tuple[int, str, str]:
        return self._write_state("apply", skip_plan=True)

    def destroy(self) -> tuple[int, str, str]:
        return self._write_state("destroy", force=None, auto_approve=IsFlagged)

    def plan_exit_code(self) -> int:
        """0: no changes, 2: changes, 1: error (terraform plan -detailed-exitcode)."""
        return self._call("plan", detailed_exitcode=IsFlagged)[0]

    def outputs(self) -> dict[str, Any]:
        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            raw = self._tf().output(state=str(self.state)) or {}
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return {name: item["value"] for name, item in raw.items()}


def make_state_private(state: Path) -> None:
    subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT), "tf-private-state", f"TF_STATE={state}"],
        check=True,
        capture_output=True,
    )


def docker_names(kind: str, prefix: str) -> list[str]:
    """Names of containers, volumes or networks carrying the project label of this prefix, or named after it."""
    by_label = {
        "container": ["docker", "ps", "-a", "--filter", f"label={PROJECT_LABEL}={prefix}", "--format", "{{.Names}}"],
        "volume": ["docker", "volume", "ls", "-q", "--filter", f"label={PROJECT_LABEL}={prefix}"],
        "network": ["docker", "network", "ls", "--filter", f"label={PROJECT_LABEL}={prefix}", "--format", "{{.Name}}"],
    }[kind]
    by_name = {
        "container": ["docker", "ps", "-a", "--format", "{{.Names}}"],
        "volume": ["docker", "volume", "ls", "-q"],
        "network": ["docker", "network", "ls", "--format", "{{.Name}}"],
    }[kind]
    found = set(subprocess.run(by_label, capture_output=True, text=True, check=True).stdout.split())
    found |= {
        name
        for name in subprocess.run(by_name, capture_output=True, text=True, check=True).stdout.split()
        if name == prefix or name.startswith(f"{prefix}-")
    }
    return sorted(found)


def force_remove(prefix: str) -> list[str]:
    """Last resort when terraform destroy failed: remove what carries this prefix, by name."""
    removed = []
    for kind, command in (
        ("container", ["docker", "rm", "-f", "-v"]),
        ("volume", ["docker", "volume", "rm", "-f"]),
        ("network", ["docker", "network", "rm"]),
    ):
        names = docker_names(kind, prefix)
        if names:
            subprocess.run([*command, *names], capture_output=True, check=False)
            removed += names
    return removed
