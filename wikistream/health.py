"""Is data flowing? The pipeline's health from Flink, Kafka and PostgreSQL, the same for both stacks.

`make status` prints it and exits non-zero when it is degraded; the job keeper records it every
few seconds in PostgreSQL's pipeline_health table, which v_pipeline_health and the dashboards show.
A job that says RUNNING is not enough: the tasks, the restarts, the checkpoints, the consumer lag
and the age of the newest row must agree. Thresholds (environment variables, defaults):

| variable                     | default | degraded when                                                |
| ---------------------------- | ------- | ------------------------------------------------------------ |
| HEALTH_MAX_RESTARTS_10M      | 2       | more job restarts (failovers + resubmissions) in 10 minutes  |
| HEALTH_MAX_CHECKPOINT_AGE_S  | 60      | the newest completed checkpoint is older (job running longer)|
| HEALTH_MAX_LAG               | 100000  | more messages wait in Kafka than this (end - committed)      |
| HEALTH_MAX_STALL_S           | 60      | messages wait but no row landed for this long                |

Always degraded: a service down or restarting, a TaskManager that missed a heartbeat (Flink still
lists its tasks as RUNNING until it misses the next one), no live job, a job not RUNNING, tasks not all running, a sink
retrying PostgreSQL, Flink/Kafka/PostgreSQL unreachable.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from wikistream.flink_config import HEARTBEAT_SILENCE_S
from wikistream.flink_rest import QUARANTINED_METRIC, RETRYING_METRIC, FlinkRest
from wikistream.postgres import single_row

RESTART_WINDOW_S = 600.0
log = logging.getLogger(__name__)


class HealthThresholds(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    max_restarts_10m: int = Field(default=2, ge=0, alias="HEALTH_MAX_RESTARTS_10M")
    max_checkpoint_age_s: float = Field(default=60.0, gt=0, alias="HEALTH_MAX_CHECKPOINT_AGE_S")
    max_lag: int = Field(default=100_000, ge=0, alias="HEALTH_MAX_LAG")
    max_stall_s: float = Field(default=60.0, gt=0, alias="HEALTH_MAX_STALL_S")


@dataclass
class PipelineHealth:
    observed_at: float
    job_id: str | None = None
    job_state: str = "no job"
    tasks_running: int = 0
    tasks_total: int = 0
    restarts_10m: int = 0
    # Of those, the keeper's resubmissions of a job the JobManager lost.
    resubmissions_10m: int = 0
    last_exception: str | None = None
    last_exception_age_s: float | None = None
    checkpoint_age_s: float | None = None
    lag: dict[int, int] = field(default_factory=dict)
    newest_click_age_s: float | None = None
    newest_row_age_s: float | None = None
    sink_retrying: int = 0
    quarantined_rows: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def degraded(self) -> bool:
        return bool(self.reasons)

    @property
    def lag_total(self) -> int:
        return sum(self.lag.values())

    def lines(self) -> list[str]:
        """The figures, one per line, for `make status`."""

        def age(seconds: float | None) -> str:
            return "never" if seconds is None else f"{seconds:.0f} s ago"

        lag = ", ".join(f"p{p} {n}" for p, n in sorted(self.lag.items())) or "unknown"
        exception = (
            "none" if self.last_exception is None else f"{age(self.last_exception_age_s)}: {self.last_exception}"
        )
        return [
            f"pipeline           {'DEGRADED: ' + '; '.join(self.reasons) if self.degraded else 'HEALTHY'}",
            f"job                {self.job_state}" + (f" ({self.job_id})" if self.job_id else ""),
            f"tasks running      {self.tasks_running}/{self.tasks_total}",
            f"restarts (10 min)  {self.restarts_10m}",
            f"last exception     {exception}",
            f"last checkpoint    {age(self.checkpoint_age_s)}",
            f"consumer lag       {lag}",
            f"newest click       {age(self.newest_click_age_s)} (newest row of any kind {age(self.newest_row_age_s)})",
            f"sink               {'RETRYING PostgreSQL' if self.sink_retrying else 'writing'};"
            f" {self.quarantined_rows} rows quarantined since the job started",
        ]


def _admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="wikistream-health", request_timeout_ms=5000, bootstrap_timeout_ms=5000
    )


def _end_offsets(admin: KafkaAdminClient, topic: str) -> dict[TopicPartition, int]:
    described = admin.describe_topics([topic])
    partitions = [TopicPartition(topic, p["partition_index"]) for t in described for p in t["partitions"]]
    ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
    return {tp: ends[tp].offset for tp in partitions}


def kafka_lag(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    """End offset minus committed offset, per partition (a partition never committed counts from 0)."""
    admin = _admin(bootstrap)
    try:
        ends = _end_offsets(admin, topic)
        committed = admin.list_group_offsets({group: list(ends)}).get(group, {})
        lag = {}
        for tp, end in ends.items():
            done = committed.get(tp)
            start = done.offset if done is not None and done.offset >= 0 else 0
            lag[tp.partition] = max(0, end - start)
        return lag
    finally:
        admin.close()


def messages_written(bootstrap: str, topic: str) -> int:
    """Every message the topic has taken so far (its partitions' end offsets, summed)."""
    admin = _admin(bootstrap)
    try:
        return sum(_end_offsets(admin, topic).values())
    finally:
        admin.close()


def newest_row_ages(dsn: str) -> tuple[float | None, float | None]:
    """(age of the newest click's ingestion, age of the newest row landed in clicks or rejected_events).

    The newest click is found through the event_time index: a full scan of clicks would grow with it.
    """
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM now() - (SELECT ingested_at FROM clicks ORDER BY event_time DESC LIMIT 1)),"
            " extract(epoch FROM now() - (SELECT max(received_at) FROM rejected_events))"
        )
        click_age, rejected_age = single_row(cur)
    ages = [float(a) for a in (click_age, rejected_age) if a is not None]
    return (float(click_age) if click_age is not None else None), (min(ages) if ages else None)


def observe(
    rest: FlinkRest,
    job_name: str,
    *,
    kafka_bootstrap: str,
    topic: str,
    group: str,
    postgres_dsn: str,
    thresholds: HealthThresholds,
    resubmissions_10m: int = 0,
    services_down: Sequence[str] = (),
) -> PipelineHealth:
    now = time.time()
    health = PipelineHealth(observed_at=now)
    reasons = health.reasons
    reasons.extend(f"{name} is down or restarting" for name in services_down)
    _observe_flink(health, rest, job_name, now, thresholds, resubmissions_10m)
    try:
        health.lag = kafka_lag(kafka_bootstrap, topic, group)
    except (KafkaError, OSError) as error:
        reasons.append(f"Kafka unreachable ({type(error).__name__})")
    try:
        health.newest_click_age_s, health.newest_row_age_s = newest_row_ages(postgres_dsn)
    except psycopg2.Error as error:
        reasons.append(f"PostgreSQL unreachable ({str(error).strip().splitlines()[0][:80]})")
    if health.lag_total > thresholds.max_lag:
        reasons.append(f"consumer lag {health.lag_total} > {thresholds.max_lag}")
    stalled_for = health.newest_row_age_s
    if health.lag_total > 0 and (stalled_for is None or stalled_for > thresholds.max_stall_s):
        reasons.append(f"{health.lag_total} messages wait but no row landed for {stalled_for or float('inf'):.0f} s")
    return health


def _observe_flink(
    health: PipelineHealth, rest: FlinkRest, job_name: str, now: float, thresholds: HealthThresholds, resubmitted: int
) -> None:
    reasons = health.reasons
    if not rest.reachable():
        reasons.append("Flink unreachable")
        return
    for tm_id, heard_at in rest.taskmanager_heartbeats().items():
        if heard_at and now - heard_at > HEARTBEAT_SILENCE_S:
            reasons.append(f"TaskManager {tm_id} silent for {now - heard_at:.0f} s (its tasks may be gone)")
    live = rest.live_jobs(job_name)
    if not live:
        reasons.append("no live Flink job")
        return
    job = live[0]
    health.job_id, health.job_state = job.job_id, job.state
    health.tasks_running, health.tasks_total = rest.task_counts(job.job_id)
    if job.state != "RUNNING":
        reasons.append(f"job {job.state}")
    if health.tasks_total == 0 or health.tasks_running < health.tasks_total:
        reasons.append(f"{health.tasks_running}/{health.tasks_total} tasks running")
    exceptions = rest.exceptions(job.job_id)
    if exceptions:
        health.last_exception = exceptions[0].summary
        health.last_exception_age_s = max(0.0, now - exceptions[0].timestamp_ms / 1000)
    failovers = sum(1 for e in exceptions if now - e.timestamp_ms / 1000 <= RESTART_WINDOW_S)
    health.resubmissions_10m = resubmitted
    health.restarts_10m = failovers + resubmitted
    if health.restarts_10m > thresholds.max_restarts_10m:
        reasons.append(f"{health.restarts_10m} restarts in the last 10 min (max {thresholds.max_restarts_10m})")
    completed = rest.last_completed_checkpoint_ms(job.job_id)
    running_for = now - job.start_time_ms / 1000
    checkpoint_age = running_for
    if completed is not None:
        checkpoint_age = health.checkpoint_age_s = max(0.0, now - completed / 1000)
    if checkpoint_age > thresholds.max_checkpoint_age_s:
        reasons.append(
            f"last checkpoint {checkpoint_age:.0f} s ago (max {thresholds.max_checkpoint_age_s:.0f})"
            if completed is not None
            else f"no checkpoint completed in {running_for:.0f} s"
        )
    health.sink_retrying = rest.sink_metric_total(job.job_id, RETRYING_METRIC)
    health.quarantined_rows = rest.sink_metric_total(job.job_id, QUARANTINED_METRIC)
    if health.sink_retrying:
        reasons.append(f"{health.sink_retrying} sink(s) retrying PostgreSQL")


def record(conn: Any, health: PipelineHealth) -> None:
    """One row of pipeline_health (the keeper calls this every few seconds)."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO pipeline_health (observed_at, degraded, reasons, job_id, job_state, tasks_running,"
            " tasks_total, restarts_10m, resubmissions_10m, last_exception, checkpoint_age_s, lag_total, lag,"
            " newest_click_age_s, sink_retrying, quarantined_rows) VALUES (to_timestamp(%s), %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                health.observed_at,
                health.degraded,
                health.reasons,
                health.job_id,
                health.job_state,
                health.tasks_running,
                health.tasks_total,
                health.restarts_10m,
                health.resubmissions_10m,
                health.last_exception,
                health.checkpoint_age_s,
                health.lag_total,
                json.dumps({str(p): n for p, n in health.lag.items()}),
                health.newest_click_age_s,
                health.sink_retrying,
                health.quarantined_rows,
            ),
        )
        cur.execute("DELETE FROM pipeline_health WHERE observed_at < now() - interval '1 day'")
    conn.commit()


def recent_resubmissions(dsn: str) -> int:
    """The keeper's resubmissions in the last 10 minutes, from its newest fresh record (0 without one).

    For a reader that cannot see the keeper's own log (`make status` of the container stack).
    """
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT resubmissions_10m FROM pipeline_health WHERE observed_at > now() - interval '1 minute'"
            " ORDER BY observed_at DESC LIMIT 1"
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0


def start_recording(look: Callable[[], PipelineHealth], dsn: str, stopping: threading.Event) -> threading.Thread:
    """A daemon thread that records look() in pipeline_health every HEALTH_RECORD_INTERVAL_S (10) s until stopping.

    Whatever breaks one observation is logged, and the next one still runs.
    """

    def loop() -> None:
        interval_s = float(os.environ.get("HEALTH_RECORD_INTERVAL_S", "10"))
        while not stopping.wait(interval_s):
            try:
                health = look()
                with closing(psycopg2.connect(dsn)) as conn:
                    record(conn, health)
            except Exception:  # one failed look must not end the recording
                log.exception("could not observe or record the pipeline's health")

    thread = threading.Thread(target=loop, name="health-recorder", daemon=True)
    thread.start()
    return thread
