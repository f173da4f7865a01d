"""The job's configuration, from environment variables, so one job runs on either stack.

Every default below is the embedded stack's; the container stack sets the same variables.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from wikistream.postgres import WRITER_USER, jdbc_url, libpq_dsn
from wikistream.settings import REPO_ROOT, SECRETS_DIR, stack_settings

_stack = stack_settings()

SCRAM_ONLY_PLUGIN = "io.wikistream.flink.sink.ScramOnlyAuthentication"

_DURATION = re.compile(r"(?P<amount>[0-9]+) *(?P<unit>ms|s|min|h|d)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def duration_seconds(text: str) -> float:
    """A Flink duration in seconds: "100 ms", "5 s", "30 min", "2 h", "1 d"; a bare number is milliseconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: a whole number and one of ms, s, min, h, d (e.g. '5 s')")
    return int(match["amount"]) * _UNIT_SECONDS[match["unit"] or "ms"]


def _checked_duration(text: str) -> str:
    duration_seconds(text)
    return text


# Passed to Flink as written; checked here so that a typo fails with the variable's name, not in the job.
FlinkDuration = Annotated[str, AfterValidator(_checked_duration)]


class SessionSinkSettings(BaseSettings):
    """How session_stats is written: also read by the fault checks (chaos.verify), which wait out its flush."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # session_stats is one upsert per click on the aggregate's side; the sink keeps the newest row per
    # session and writes it at most this often (and at every checkpoint), so an open session's row
    # is at most this stale and a busy session costs one write per interval, not one per click.
    session_flush_interval: FlinkDuration = Field(default="5 s", alias="SESSION_STATS_FLUSH_INTERVAL")
    # Room for every session that clicks within an interval (20,000 clicks/s x 5 s at most 100,000).
    session_buffer_rows: int = Field(default=100_000, ge=1, alias="SESSION_STATS_BUFFER_ROWS")


class JobSettings(SessionSinkSettings):
    # POSTGRES_WRITER_PASSWORD may also be the file WIKISTREAM_SECRETS_DIR/POSTGRES_WRITER_PASSWORD.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, secrets_dir=SECRETS_DIR)

    job_name: str = Field(default=_stack.flink_job_name, alias="FLINK_JOB_NAME")
    kafka_bootstrap_servers: str = Field(default=_stack.kafka_bootstrap, alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_topic: str = Field(default=_stack.kafka_topic, alias="KAFKA_TOPIC")
    kafka_group_id: str = Field(default=_stack.kafka_group_id, alias="KAFKA_GROUP_ID")
    postgres_jdbc_url: str = Field(
        default=jdbc_url("127.0.0.1", _stack.postgres_port, _stack.postgres_db),
        alias="POSTGRES_JDBC_URL",
    )
    postgres_user: str = Field(default=WRITER_USER, alias="POSTGRES_WRITER_USER")
    postgres_password: str = Field(alias="POSTGRES_WRITER_PASSWORD")
    checkpoint_interval: FlinkDuration = Field(default="10 s", alias="CHECKPOINT_INTERVAL")
    parallelism: int = Field(default=_stack.flink_task_slots, ge=1, alias="JOB_PARALLELISM")
    watermark_delay_s: int = Field(default=5, ge=0, alias="WATERMARK_DELAY_SECONDS")
    # A partition silent this long stops holding the windows back; "0 ms" (the default) never. Idleness
    # cannot tell a quiet partition from one cut off: after a Kafka outage every partition is silent,
    # and the first one back would move the watermark past the others' backlog, whose clicks would
    # miss their windows (measured: a third of a minute's counts after a 60-s hang). The producer's
    # ticks (flink_job/validation.py) keep every partition's time moving instead.
    source_idle_timeout: FlinkDuration = Field(default="0 ms", alias="SOURCE_IDLE_TIMEOUT")
    max_event_bytes: int = Field(default=16384, ge=256, alias="MAX_EVENT_BYTES")
    # A session ends after this long without a click (web analytics' usual 30 minutes, counted in
    # processing time: Flink's state TTL): its state is dropped, so state plateaus at the sessions of
    # the last 30 minutes; its row in session_stats stays. A click after a longer gap starts it over.
    session_state_ttl: FlinkDuration = Field(default="30 min", alias="SESSION_STATE_TTL")
    # RocksDB keeps state off the heap, in managed memory and on local disk: a long run's sessions
    # do not fill the TaskManager's heap (measured in bench/README.md). "hashmap" keeps it on the heap.
    state_backend: Literal["rocksdb", "hashmap"] = Field(default="rocksdb", alias="STATE_BACKEND")
    # Chained operators pass rows on without a defensive copy each (the source fans out to 7 branches).
    object_reuse: bool = Field(default=True, alias="PIPELINE_OBJECT_REUSE")
    sink_batch_rows: int = Field(default=5000, ge=1, alias="SINK_BATCH_ROWS")
    # Measured at 2,000 events/s: p95 latency 281 ms at 200 ms, 183 ms at 100 ms, and 182 ms at 50 ms
    # while the producer's 50-ms steps dominated; with 10-ms steps, 80 ms at 50 ms against 164 ms at
    # 100 ms. Drains were the same (6,060 / 6,025 / 6,546 events/s): batches fill to what arrives.
    sink_flush_interval: FlinkDuration = Field(default="50 ms", alias="SINK_FLUSH_INTERVAL")
    sink_rewrite_batched_inserts: bool = Field(default=True, alias="SINK_REWRITE_BATCHED_INSERTS")
    # PostgreSQL unreachable: the batch is retried this often (back-off doubling from SINK_RETRY_BACKOFF),
    # then the job fails and restarts from its last checkpoint. A row PostgreSQL refuses is tried
    # SINK_ROW_RETRIES more times on its own, then quarantined (flink_job/functions, TableWriter).
    sink_max_retries: int = Field(default=5, ge=0, alias="SINK_MAX_RETRIES")
    sink_retry_backoff: FlinkDuration = Field(default="500 ms", alias="SINK_RETRY_BACKOFF")
    sink_row_retries: int = Field(default=2, ge=0, alias="SINK_ROW_RETRIES")
    user_cache_rows: int = Field(default=20000, ge=0, alias="USER_CACHE_ROWS")
    user_cache_ttl: FlinkDuration = Field(default="10 min", alias="USER_CACHE_TTL")
    jars_dir: Path = Field(default=REPO_ROOT / "jars" / "target" / "flink", alias="FLINK_JOB_JARS_DIR")

    def jar_uris(self) -> list[str]:
        jars = sorted(self.jars_dir.glob("*.jar"))
        if not jars:
            raise SystemExit(f"no connector jars in {self.jars_dir}: run 'make jars' (or set FLINK_JOB_JARS_DIR)")
        return [jar.resolve().as_uri() for jar in jars]

    def libpq_dsn(self) -> str:
        """The same database and role for a Python client (the job keeper's health records)."""
        address = urlsplit(self.postgres_jdbc_url.removeprefix("jdbc:"))
        return libpq_dsn(
            host=address.hostname or "",
            port=address.port or 5432,
            dbname=address.path.lstrip("/"),
            user=self.postgres_user,
            password=self.postgres_password,
        )

    @property
    def jdbc_url(self) -> str:
        """The URL of every connection the job opens: pgjdbc has no require_auth, so a plugin of ours
        hands it the password only when the server asks for SCRAM (flink_job/functions)."""
        return _with_parameters(self.postgres_jdbc_url, {"authenticationPluginClassName": SCRAM_ONLY_PLUGIN})

    @property
    def sink_url(self) -> str:
        # The driver rewrites a batch of single-row INSERTs into multi-row statements.
        rewrite = {"reWriteBatchedInserts": "true"} if self.sink_rewrite_batched_inserts else {}
        return _with_parameters(self.jdbc_url, rewrite)


def _with_parameters(url: str, parameters: dict[str, str]) -> str:
    if not parameters:
        return url
    separator = "&" if "?" in url else "?"
    return url + separator + urlencode(parameters)
