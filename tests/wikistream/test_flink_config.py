"""One rendering of Flink's config.yaml for both stacks: the embedded cluster and the Flink image."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from stack.flink import FlinkCluster, FlinkMemory, flink_home
from wikistream.flink_config import shared_options
from wikistream.layout import Layout
from wikistream.settings import REPO_ROOT, stack_settings

IMAGE_ENTRYPOINT = REPO_ROOT / "docker" / "flink" / "flink.py"


def _image_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flink_image_entrypoint", IMAGE_ENTRYPOINT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _image_env(monkeypatch: pytest.MonkeyPatch, conf_dir: Path) -> None:
    settings = stack_settings()
    for name, value in {
        "FLINK_CONF_DIR": str(conf_dir),
        "FLINK_JOBMANAGER_HOST": "flink-jobmanager",
        "FLINK_RPC_PORT": str(settings.flink_rpc_port),
        "FLINK_REST_PORT": str(settings.flink_rest_port),
        "FLINK_TASK_SLOTS": str(settings.flink_task_slots),
        "JOB_PARALLELISM": "3",
        "FLINK_JOBMANAGER_MEMORY": settings.flink_jobmanager_memory,
        "FLINK_TASKMANAGER_MEMORY": settings.flink_taskmanager_memory,
        "FLINK_MANAGED_MEMORY_FRACTION": str(settings.flink_managed_memory_fraction),
        "FLINK_TASKMANAGER_RESOURCE_ID": "ws-flink-taskmanager-2",
    }.items():
        monkeypatch.setenv(name, value)


def _embedded_config(tmp_path: Path) -> dict[str, object]:
    settings = stack_settings()
    cluster = FlinkCluster(
        Layout(tmp_path / "state"),
        settings.flink_rest_port,
        settings.flink_rpc_port,
        settings.flink_task_slots,
        FlinkMemory(
            settings.flink_jobmanager_memory, settings.flink_taskmanager_memory, settings.flink_managed_memory_fraction
        ),
    )
    cluster.write_config()
    loaded: dict[str, object] = yaml.safe_load((cluster.conf_dir / "config.yaml").read_text())
    return loaded


def _image_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    conf_dir = tmp_path / "image-conf"
    _image_env(monkeypatch, conf_dir)
    _image_module().configure()
    loaded: dict[str, object] = yaml.safe_load((conf_dir / "config.yaml").read_text())
    return loaded


def test_both_stacks_render_the_shared_options_and_the_distribution_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = _embedded_config(tmp_path)
    image = _image_config(tmp_path, monkeypatch)
    shipped_opts = yaml.safe_load((flink_home() / "conf" / "config.yaml").read_text())["env"]["java"]["opts"]["all"]
    for config, uris in (
        (embedded, {"execution.checkpointing.dir", "execution.checkpointing.savepoint-dir"}),
        (image, {"execution.checkpointing.dir", "execution.checkpointing.savepoint-dir"}),
    ):
        for key, value in shared_options("file:///c", "file:///s").items():
            if key not in uris:
                assert config[key] == value, key
        assert config["env.java.opts.all"] == f"{shipped_opts} -Duser.timezone=UTC"
        assert config["taskmanager.memory.process.size"] == stack_settings().flink_taskmanager_memory
    # What may differ is where each cluster lives, nothing else.
    only_embedded = set(embedded) - set(image)
    only_image = set(image) - set(embedded)
    assert only_embedded == {"taskmanager.host", "io.tmp.dirs"}
    assert only_image == {
        "python.executable",
        "python.client.executable",
        "taskmanager.registration.timeout",
        "taskmanager.resource-id",
    }


def test_the_embedded_cluster_listens_on_loopback_only(tmp_path: Path) -> None:
    config = _embedded_config(tmp_path)
    loopback = ("jobmanager.bind-host", "taskmanager.bind-host", "rest.bind-address", "rest.address")
    loopback += ("taskmanager.host",)
    for key in loopback:
        assert config[key] == "127.0.0.1", key
    assert config["parallelism.default"] == stack_settings().flink_task_slots
    assert str(config["execution.checkpointing.dir"]).startswith((tmp_path / "state").as_uri())


def test_the_image_takes_its_cluster_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _image_config(tmp_path, monkeypatch)
    assert config["jobmanager.rpc.address"] == config["rest.address"] == "flink-jobmanager"
    assert config["rest.bind-address"] == "0.0.0.0"
    assert "taskmanager.host" not in config
    assert config["parallelism.default"] == 3
    assert config["taskmanager.resource-id"] == "ws-flink-taskmanager-2"
    assert config["execution.checkpointing.dir"] == "file:///flink-data/checkpoints"


def test_the_image_names_a_missing_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _image_env(monkeypatch, tmp_path / "conf")
    monkeypatch.delenv("FLINK_RPC_PORT")
    with pytest.raises(SystemExit, match="FLINK_RPC_PORT is not set"):
        _image_module().configure()
