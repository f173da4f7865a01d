"""One source of truth: config/stack.env, overridable by environment variables of the same name.

The Makefile includes the same file and Terraform parses it, so a version, port or name is
typed once, in config/stack.env.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from wikistream.paths import REPO_ROOT, STACK_ENV
from wikistream.retention import Retention

__all__ = ["REPO_ROOT", "STACK_ENV", "StackSettings", "cache_dir", "stack_settings"]

# Where a component's passwords lie as files, one per variable (/run/secrets/POSTGRES_PASSWORD):
# the container stack puts them there instead of in the environment. An environment variable wins.
SECRETS_DIR = os.environ.get("WIKISTREAM_SECRETS_DIR") or None


def cache_dir() -> Path:
    """Downloads kept across state directories and clones: WIKISTREAM_CACHE, default ~/.cache/wikistream."""
    return Path(os.environ.get("WIKISTREAM_CACHE") or Path.home() / ".cache" / "wikistream")


class StackSettings(BaseSettings):
    """Versions, names and ports of the stack (config/stack.env)."""

    model_config = SettingsConfigDict(env_file=STACK_ENV, extra="ignore", frozen=True)

    flink_version: str
    flink_kafka_connector_version: str
    flink_jdbc_connector_version: str
    flink_shaded_jackson_version: str
    postgres_jdbc_version: str
    kafka_version: str
    log4j_version: str
    maven_version: str
    metabase_version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+(\.[0-9]+)?$")
    metabase_jar_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    metabase_download_url: str = Field(pattern=r"^https?://")

    kafka_topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    kafka_topic_partitions: int = Field(ge=1, le=64)
    kafka_group_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    postgres_db: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    flink_job_name: str

    kafka_port: int = Field(ge=1, le=65535)
    kafka_controller_port: int = Field(ge=1, le=65535)
    flink_rest_port: int = Field(ge=1, le=65535)
    flink_rpc_port: int = Field(ge=1, le=65535)
    postgres_port: int = Field(ge=1, le=65535)
    postgres_container_port: int = Field(ge=1, le=65535)
    metabase_port: int = Field(ge=1, le=65535)

    kafka_heap: str = Field(pattern=r"^[0-9]+[mg]$")
    flink_jobmanager_memory: str = Field(pattern=r"^[0-9]+[mg]$")
    flink_taskmanager_memory: str = Field(pattern=r"^[0-9]+[mg]$")
    flink_managed_memory_fraction: float = Field(ge=0.0, lt=1.0)
    metabase_heap: str = Field(pattern=r"^[0-9]+[mg]$")

    wikistream_state_dir: Path
    wikistream_root_runtime_dir: Path
    flink_task_slots: int = Field(ge=1, le=64)
    users_count: int = Field(ge=1, le=1_000_000)
    producer_rate: float = Field(gt=0)

    retention_raw_days: int = Field(ge=1, le=3650)
    retention_aggregate_days: int = Field(ge=1, le=3650)
    kafka_retention_bytes: int = Field(ge=1024 * 1024)
    kafka_segment_bytes: int = Field(ge=1024 * 1024, le=2**30)
    maintenance_interval_s: float = Field(gt=0)

    def as_env(self) -> dict[str, str]:
        """These settings as the environment variables they are read from (for child processes)."""
        return {name.upper(): str(value) for name, value in self.model_dump().items()}

    @property
    def state_path(self) -> Path:
        """The state directory, absolute (a relative WIKISTREAM_STATE_DIR is relative to the repository)."""
        path = self.wikistream_state_dir
        return path if path.is_absolute() else REPO_ROOT / path

    def retention(self) -> Retention:
        return Retention(raw_days=self.retention_raw_days, aggregate_days=self.retention_aggregate_days)

    def kafka_retention_properties(self) -> dict[str, str]:
        """The broker's retention (docker/kafka/entrypoint.sh renders the same from the same settings)."""
        return {
            "log.retention.hours": str(self.retention_raw_days * 24),
            "log.retention.bytes": str(self.kafka_retention_bytes),
            "log.segment.bytes": str(self.kafka_segment_bytes),
        }

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"


@lru_cache(maxsize=1)
def stack_settings() -> StackSettings:
    return StackSettings()  # type: ignore[call-arg]  # values come from the env file
