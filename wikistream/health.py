"""Is data flowing? The pipeline's health from Flink, Kafka and PostgreSQL, the same for both stacks.

`make status` prints it and exits non-zero when it is degraded; the job keeper records it every
few seconds in PostgreSQL's pipeline_health table, which v_pipeline_health and the dashboards show.
A job that says RUNNING is not enough: the tasks, the restarts, the checkpoints, the consumer lag
and the age of the newest row must agree. Thresholds (environment variables, defaults):

| variable                     | default | degraded when                                                |
| ---------------------------- | ------- | ------------------------------------------------------------ |
| HEALTH_MAX_RESTARTS_10M      | 2       | more job restarts (failovers + resubmissions) in 10 minutes, |
|                              |         | the newest within 3 minutes (a loop still going)             |
| HEALTH_MAX_CHECKPOINT_AGE_S  | 60      | the newest completed checkpoint is older (job running longer)|
| HEALTH_MAX_LAG               | 100000  | more messages wait in Kafka than this (end - committed)      |
| HEALTH_MAX_STALL_S           | 60      | messages wait but no click landed for this long              |
| HEALTH_MAX_MESSAGE_AGE_S     | 60      | the producer should run, but Kafka took nothing for this long|
|                              |         | (it ticks every second: it is down or hung)                  |
| HEALTH_MAX_CLICK_AGE_S       | 120     | the producer should run, but no click landed for this long   |
| HEALTH_MAX_REJECTED_SHARE    | 0.05    | more of the last 5 minutes' messages went to rejected_events |
| HEALTH_MIN_FREE_DISK_MB      | 2048    | less space is free where the stack keeps its data            |

Always degraded: a service down or restarting, a TaskManager that missed a heartbeat (Flink still
lists its tasks as RUNNING until it misses the next one), no live job, a job not RUNNING, tasks not
all running, a sink retrying PostgreSQL, Flink/Kafka/PostgreSQL unreachable, and for an hour after
messages expired from Kafka before the job read them: the job then goes on from the oldest message
Kafka still has, and what it skipped is counted and recorded in skipped_offsets, never skipped
silently.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
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
# Restarts count as a loop while they go on: in one, Flink's exponential-delay restarts come at most
# a minute apart (its max-backoff); three quiet minutes after an outage ended, the job is judged on
# its checkpoints and its flow again (the count stays in the status line).
RESTART_QUIET_S = 180.0
# The recent messages whose rejected share is judged.
SHARE_WINDOW_S = 300
# The newest clicks by event time among which the newest arrival is looked for: bounded work on an
# index, however large clicks grows (a few clicks stamped ahead cannot hide the arrivals).
NEWEST_CLICKS = 1000
# How long a recorded skip (messages expired before the job read them) keeps the pipeline degraded.
SKIP_NOTICE_S = 3600
log = logging.getLogger(__name__)


class HealthThresholds(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    max_restarts_10m: int = Field(default=2, ge=0, alias="HEALTH_MAX_RESTARTS_10M")
    max_checkpoint_age_s: float = Field(default=60.0, gt=0, alias="HEALTH_MAX_CHECKPOINT_AGE_S")
    max_lag: int = Field(default=100_000, ge=0, alias="HEALTH_MAX_LAG")
    max_stall_s: float = Field(default=60.0, gt=0, alias="HEALTH_MAX_STALL_S")
    max_message_age_s: float = Field(default=60.0, gt=0, alias="HEALTH_MAX_MESSAGE_AGE_S")
    max_click_age_s: float = Field(default=120.0, gt=0, alias="HEALTH_MAX_CLICK_AGE_S")
    max_rejected_share: float = Field(default=0.05, ge=0, le=1, alias="HEALTH_MAX_REJECTED_SHARE")
    min_free_disk_mb: float = Field(default=2048.0, ge=0, alias="HEALTH_MIN_FREE_DISK_MB")


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
    # How long ago Kafka took its newest message (the producer ticks every second).
    newest_message_age_s: float | None = None
    # Of the last SHARE_WINDOW_S's messages, the share that went to rejected_events.
    rejected_share: float | None = None
    # Per partition, the offsets [first, last] that expired from Kafka before the job read them (now),
    # and the messages so skipped and recorded in the last SKIP_NOTICE_S.
    skipped: dict[int, tuple[int, int]] = field(default_factory=dict)
    skipped_recently: int = 0
    # The least free space among the filesystems holding the stack's data.
    free_disk_mb: float | None = None
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
        share = "none" if self.rejected_share is None else f"{self.rejected_share:.1%}"
        return [
            f"pipeline           {'DEGRADED: ' + '; '.join(self.reasons) if self.degraded else 'HEALTHY'}",
            f"job                {self.job_state}" + (f" ({self.job_id})" if self.job_id else ""),
            f"tasks running      {self.tasks_running}/{self.tasks_total}",
            f"restarts (10 min)  {self.restarts_10m}",
            f"last exception     {exception}",
            f"last checkpoint    {age(self.checkpoint_age_s)}",
            f"consumer lag       {lag}",
            f"newest message     {age(self.newest_message_age_s)} (in Kafka, ticks included)",
            f"newest click       {age(self.newest_click_age_s)} (newest row of any kind {age(self.newest_row_age_s)})",
            f"rejected           {share} of the last {SHARE_WINDOW_S // 60} minutes' messages",
            f"sink               {'RETRYING PostgreSQL' if self.sink_retrying else 'writing'};"
            f" {self.quarantined_rows} rows quarantined since the job started",
            f"expired unread     {self.skipped_recently} messages in the last hour (skipped_offsets)",
            f"free disk          {'unknown' if self.free_disk_mb is None else f'{self.free_disk_mb:,.0f} MiB'}",
        ]


def _admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="wikistream-health", request_timeout_ms=5000, bootstrap_timeout_ms=5000
    )


@dataclass(frozen=True)
class TopicPositions:
    """Where each partition of the topic starts and ends, where the group is, and Kafka's newest stamp."""

    starts: dict[int, int]
    ends: dict[int, int]
    committed: dict[int, int]
    # The broker's stamp (LogAppendTime) of its newest message, epoch ms; None for an empty topic.
    newest_ms: int | None

    def lag(self) -> dict[int, int]:
        """Messages waiting per partition: from what the group committed (never: the start) to the end."""
        return {p: max(0, end - max(self.committed.get(p, 0), self.starts[p])) for p, end in self.ends.items()}

    def expired_unread(self) -> dict[int, tuple[int, int]]:
        """Per partition, the offsets [first, last] Kafka deleted before the group read them."""
        return {
            p: (self.committed[p], start - 1)
            for p, start in self.starts.items()
            if p in self.committed and self.committed[p] < start
        }


def _partitions(admin: KafkaAdminClient, topic: str) -> list[TopicPartition]:
    described = admin.describe_topics([topic])
    return [TopicPartition(topic, p["partition_index"]) for t in described for p in t["partitions"]]


def _offsets(admin: KafkaAdminClient, partitions: list[TopicPartition], spec: OffsetSpec) -> dict[TopicPartition, Any]:
    return admin.list_partition_offsets(dict.fromkeys(partitions, spec))  # type: ignore[no-any-return]


def topic_positions(bootstrap: str, topic: str, group: str) -> TopicPositions:
    admin = _admin(bootstrap)
    try:
        partitions = _partitions(admin, topic)
        starts = _offsets(admin, partitions, OffsetSpec.EARLIEST)
        ends = _offsets(admin, partitions, OffsetSpec.LATEST)
        newest = _offsets(admin, partitions, OffsetSpec.MAX_TIMESTAMP)
        committed = admin.list_group_offsets({group: partitions}).get(group, {})
    finally:
        admin.close()
    stamps = [newest[tp].timestamp for tp in partitions if newest[tp].timestamp >= 0]
    return TopicPositions(
        starts={tp.partition: starts[tp].offset for tp in partitions},
        ends={tp.partition: ends[tp].offset for tp in partitions},
        committed={
            tp.partition: done.offset for tp, done in committed.items() if done is not None and done.offset >= 0
        },
        newest_ms=max(stamps) if stamps else None,
    )


def kafka_lag(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    """End offset minus committed offset, per partition (a partition never committed counts from its start)."""
    return topic_positions(bootstrap, topic, group).lag()


def messages_written(bootstrap: str, topic: str) -> int:
    """Every message the topic has taken so far (its partitions' end offsets, summed)."""
    admin = _admin(bootstrap)
    try:
        return sum(offset.offset for offset in _offsets(admin, _partitions(admin, topic), OffsetSpec.LATEST).values())
    finally:
        admin.close()


@dataclass(frozen=True)
class Landed:
    """What PostgreSQL says of the newest arrivals."""

    newest_click_age_s: float | None
    newest_row_age_s: float | None
    rejected_share: float | None
    skipped_recently: int


def landed(dsn: str) -> Landed:
    """The newest arrivals, found through the time indexes (a full scan would grow with the tables)."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT extract(epoch FROM now() - (SELECT max(ingested_at) FROM"
            "   (SELECT ingested_at FROM clicks ORDER BY event_time DESC LIMIT %(newest)s) newest)),"
            " extract(epoch FROM now() - (SELECT max(received_at) FROM rejected_events)),"
            " (SELECT count(*) FROM rejected_events WHERE received_at > now() - make_interval(secs => %(window)s)),"
            " (SELECT count(*) FROM clicks WHERE event_time > now() - make_interval(secs => %(window)s)),"
            " (SELECT coalesce(sum(last_offset - first_offset + 1), 0) FROM skipped_offsets"
            "   WHERE detected_at > now() - make_interval(secs => %(notice)s))",
            {"newest": NEWEST_CLICKS, "window": SHARE_WINDOW_S, "notice": SKIP_NOTICE_S},
        )
        click_age, rejected_age, rejected, clicks, skipped = single_row(cur)
    ages = [float(a) for a in (click_age, rejected_age) if a is not None]
    return Landed(
        newest_click_age_s=float(click_age) if click_age is not None else None,
        newest_row_age_s=min(ages) if ages else None,
        rejected_share=rejected / (rejected + clicks) if rejected + clicks else None,
        skipped_recently=int(skipped),
    )


def free_disk_mb(paths: Sequence[Path]) -> float | None:
    """The least free space among the filesystems of the paths that exist (MiB)."""
    free = [shutil.disk_usage(path).free / 2**20 for path in paths if path.exists()]
    return min(free) if free else None


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
    producer_expected: bool = True,
    data_paths: Sequence[Path] = (),
) -> PipelineHealth:
    """The pipeline's health now. producer_expected: the producer should be running (not stopped on
    request), so silence is a fault; data_paths: where the stack keeps its data (free disk)."""
    now = time.time()
    health = PipelineHealth(observed_at=now)
    reasons = health.reasons
    reasons.extend(f"{name} is down or restarting" for name in services_down)
    _observe_flink(health, rest, job_name, now, thresholds, resubmissions_10m)
    try:
        positions = topic_positions(kafka_bootstrap, topic, group)
        health.lag = positions.lag()
        health.skipped = positions.expired_unread()
        if positions.newest_ms is not None:
            health.newest_message_age_s = max(0.0, now - positions.newest_ms / 1000)
    except (KafkaError, OSError) as error:
        reasons.append(f"Kafka unreachable ({type(error).__name__})")
    try:
        arrivals = landed(postgres_dsn)
        health.newest_click_age_s, health.newest_row_age_s = arrivals.newest_click_age_s, arrivals.newest_row_age_s
        health.rejected_share, health.skipped_recently = arrivals.rejected_share, arrivals.skipped_recently
    except psycopg2.Error as error:
        reasons.append(f"PostgreSQL unreachable ({str(error).strip().splitlines()[0][:80]})")
    judge_flow(health, thresholds, producer_expected)
    health.free_disk_mb = free_disk_mb(data_paths)
    if health.free_disk_mb is not None and health.free_disk_mb < thresholds.min_free_disk_mb:
        reasons.append(f"only {health.free_disk_mb:,.0f} MiB of disk free (min {thresholds.min_free_disk_mb:,.0f})")
    return health


def judge_flow(health: PipelineHealth, thresholds: HealthThresholds, producer_expected: bool) -> None:
    reasons = health.reasons
    if health.lag_total > thresholds.max_lag:
        reasons.append(f"consumer lag {health.lag_total} > {thresholds.max_lag}")
    stalled_for = health.newest_click_age_s
    if health.lag_total > 0 and (stalled_for is None or stalled_for > thresholds.max_stall_s):
        reasons.append(f"{health.lag_total} messages wait but no click landed for {stalled_for or float('inf'):.0f} s")
    if producer_expected:
        silent = health.newest_message_age_s
        if silent is not None and silent > thresholds.max_message_age_s:
            reasons.append(f"Kafka took no message for {silent:.0f} s: the producer is down or hung")
        fresh = health.newest_click_age_s
        if fresh is not None and fresh > thresholds.max_click_age_s:
            reasons.append(f"no new click for {fresh:.0f} s")
    if health.rejected_share is not None and health.rejected_share > thresholds.max_rejected_share:
        reasons.append(
            f"{health.rejected_share:.0%} of the last {SHARE_WINDOW_S // 60} minutes' messages were rejected"
            f" (max {thresholds.max_rejected_share:.0%})"
        )
    for partition, (first, last) in sorted(health.skipped.items()):
        reasons.append(f"partition {partition}: offsets {first}..{last} expired from Kafka before the job read them")
    if health.skipped_recently:
        reasons.append(f"{health.skipped_recently} messages expired unread in the last hour (skipped_offsets)")


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
    running_for = now - job.start_time_ms / 1000
    # A resubmission starts a new job, a failover records an exception: the newer of the two.
    newest_failover_s = health.last_exception_age_s if health.last_exception_age_s is not None else running_for
    quiet_for = min(running_for, newest_failover_s)
    if health.restarts_10m > thresholds.max_restarts_10m and quiet_for < RESTART_QUIET_S:
        reasons.append(
            f"{health.restarts_10m} restarts in the last 10 min (max {thresholds.max_restarts_10m}),"
            f" the newest {quiet_for:.0f} s ago"
        )
    completed = rest.last_completed_checkpoint_ms(job.job_id)
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
    """One row of pipeline_health (the keeper calls this every few seconds), and any skip it saw."""
    columns = {
        "observed_at": health.observed_at,
        "degraded": health.degraded,
        "reasons": health.reasons,
        "job_id": health.job_id,
        "job_state": health.job_state,
        "tasks_running": health.tasks_running,
        "tasks_total": health.tasks_total,
        "restarts_10m": health.restarts_10m,
        "resubmissions_10m": health.resubmissions_10m,
        "last_exception": health.last_exception,
        "checkpoint_age_s": health.checkpoint_age_s,
        "lag_total": health.lag_total,
        "lag": json.dumps({str(p): n for p, n in health.lag.items()}),
        "newest_click_age_s": health.newest_click_age_s,
        "sink_retrying": health.sink_retrying,
        "quarantined_rows": health.quarantined_rows,
        "newest_message_age_s": health.newest_message_age_s,
        "rejected_share": health.rejected_share,
        "skipped_recently": health.skipped_recently,
        "free_disk_mb": health.free_disk_mb,
    }
    values = ", ".join("to_timestamp(%s)" if name == "observed_at" else "%s" for name in columns)
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO pipeline_health ({', '.join(columns)}) VALUES ({values})",
            tuple(columns.values()),
        )
        for partition, (first, last) in health.skipped.items():
            # The same gap seen again (the job has not moved past it yet) widens its row, never adds one.
            cur.execute(
                "INSERT INTO skipped_offsets (kafka_partition, first_offset, last_offset, detected_at)"
                " VALUES (%s, %s, %s, now()) ON CONFLICT (kafka_partition, first_offset)"
                " DO UPDATE SET last_offset = GREATEST(skipped_offsets.last_offset, EXCLUDED.last_offset)",
                (partition, first, last),
            )
            log.error("partition %d: offsets %d..%d expired from Kafka unread", partition, first, last)
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
            except psycopg2.OperationalError as error:  # PostgreSQL down: a line, not a traceback each time
                log.warning("could not record the pipeline's health: %s", str(error).strip().splitlines()[0])
            except Exception:  # one failed look must not end the recording
                log.exception("could not observe or record the pipeline's health")

    thread = threading.Thread(target=loop, name="health-recorder", daemon=True)
    thread.start()
    return thread
