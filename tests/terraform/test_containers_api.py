"""stack.containers without a container stack: clear answers, no exceptions from missing state."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.containers import TerraformStack, container_count_rows, container_stack_running, container_status
from stack.preflight import PrerequisiteError


def test_without_state_nothing_runs(tmp_path: Path) -> None:
    stack = TerraformStack(state=tmp_path / "terraform.tfstate")
    assert stack.outputs() == {}
    assert not container_stack_running(stack)
    assert container_status(stack) == [("container stack", "not created (make up)")]
    with pytest.raises(PrerequisiteError, match="make up"):
        container_count_rows(stack)


def test_down_stack_reports_where_the_data_is(tmp_path: Path) -> None:
    stack = TerraformStack(state=tmp_path / "terraform.tfstate")
    stack._outputs = {"containers": {}, "flink_containers": [], "volumes": ["x-postgres-data", "x-kafka-data"]}
    assert not container_stack_running(stack)
    assert container_status(stack) == [
        ("container stack", "down (make up); data kept in volumes x-postgres-data, x-kafka-data")
    ]
