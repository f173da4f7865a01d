"""A time-lapse: 40 days of clicks through the real job at speed, the retention played day by day.

One stack of the module's own, its producer stopped and its job started again without state from
the offsets it committed (no watermark, so clicks 40 days old are on time again). Its keeper ran
the maintenance once at start (MAINTENANCE_INTERVAL_S is a day here); the test then plays each day:
the day's clicks on both partitions, a tick at its end (the windows close), and the maintenance at
that time, as the schema's owner (wikistream.retention.maintain(dsn, at)). Checked as it goes and at
the end: the day's clicks and every key of its minute aggregates right (chaos.verify), partitions
created ahead and dropped on schedule, the aggregates of all 40 days kept, the rows of the
producer's own run and every view untouched.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest

from chaos.stream import Run, producer, tick
from chaos.verify import aggregate_mismatches
from tests.conftest import RunningStack, isolated_stack
from tests.sql.test_retention import day_partitions
from wikistream.health import kafka_lag
from wikistream.retention import maintain

pytestmark = [pytest.mark.slow, pytest.mark.long]

DAYS = 40
PER_DAY = 24  # one click an hour, the partitions taking turns
RAW_DAYS = 7
AGGREGATE_DAYS = 90
DAYS_AHEAD = 2  # sql/006_retention.sql
RUN = Run(tag="lapse", events=DAYS * PER_DAY, rate=0, sessions=5)
TABLES = ("clicks", "clicks_per_minute_article", "clicks_per_minute_referrer", "clicks_per_minute_country")
VIEWS = (
    "v_clicks_per_minute",
    "v_top_articles_5m",
    "v_top_articles_60m",
    "v_referrer_share",
    "v_clicks_by_country",
    "v_latest_clicks",
    "v_pipeline_freshness",
    "v_rejected_counts",
    "v_session_summary",
    "v_pipeline_health",
)


def _wait(what: str, done: Callable[[], bool], timeout_s: float, found: Callable[[], object] = lambda: "") -> None:
    """Until done(); found() says what there was instead when it times out."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s {found()}"
        time.sleep(0.5)


def _restart_job_without_state(running: RunningStack) -> None:
    """Stop the producer, let the job read (and commit) what it sent, then have the keeper start the
    job afresh from those offsets: no operator has a watermark then. A restored one would not do: a
    window operator keeps its watermark in its state (Flink's WindowAggOperator), so 40-day-old
    clicks would be late there."""
    stack = running.embedded()
    stack.stop_service("producer")
    bootstrap = f"127.0.0.1:{running.env['KAFKA_PORT']}"
    settings = stack.settings
    # Lag counts from the committed offsets: zero once a checkpoint committed the producer's last messages.
    _wait(
        "the job read and committed the producer's last messages",
        lambda: not any(kafka_lag(bootstrap, settings.kafka_topic, settings.kafka_group_id).values()),
        120,
    )
    stack.stop_service("job-keeper")
    [job] = stack.flink.rest.live_jobs(settings.flink_job_name)
    stack.flink.rest.cancel(job.job_id)
    for restore_points in (stack.layout.savepoints_dir, stack.layout.checkpoints_dir):
        shutil.rmtree(restore_points, ignore_errors=True)
    stack.start_service("job-keeper")

    def fresh() -> bool:
        jobs = stack.flink.rest.live_jobs(settings.flink_job_name)
        return any(j.job_id != job.job_id and stack.flink.rest.all_tasks_running(j.job_id) for j in jobs)

    _wait("the keeper started the job without state", fresh, 180)


@pytest.fixture(scope="module")
def lapse_stack() -> Iterator[RunningStack]:
    env = {
        "MAINTENANCE_INTERVAL_S": "86400",
        "RETENTION_RAW_DAYS": str(RAW_DAYS),
        "RETENTION_AGGREGATE_DAYS": str(AGGREGATE_DAYS),
    }
    with isolated_stack("wikistream-lapse-", env) as running:
        _restart_job_without_state(running)
        yield running


def _untouched(running: RunningStack) -> tuple[object, ...]:
    """What the lapse must leave alone: the producer's rows and every non-stream table."""
    return tuple(
        running.query(
            "SELECT (SELECT count(*) FROM clicks WHERE event_id NOT LIKE 'lapse-%'),"
            " (SELECT coalesce(sum(clicks), 0) FROM clicks_per_minute_article WHERE article NOT LIKE 'lapse-%'),"
            " (SELECT coalesce(sum(pages), 0) FROM session_stats WHERE session_id NOT LIKE 'lapse-%'),"
            " (SELECT count(*) FROM users)"
        )[0]
    )


def _per_day(running: RunningStack, table: str, before: date) -> dict[date, int]:
    """Clicks per UTC day before `before` (only the lapse's lie there): rows of clicks, sums of an aggregate."""
    column, measure = ("event_time", "count(*)") if table == "clicks" else ("window_start", "sum(clicks)")
    rows = running.query(
        f"SELECT ({column} AT TIME ZONE 'UTC')::date AS day, {measure} FROM {table} WHERE {column} < %s GROUP BY 1",
        (datetime(before.year, before.month, before.day, tzinfo=UTC),),
    )
    return {day: int(n) for day, n in rows}


LANDED_PER_DAY = dict.fromkeys(TABLES, PER_DAY) | {"late_events": 0}


def _landed(running: RunningStack, day: date) -> dict[str, int | None]:
    """The day's clicks in each table, and the lapse's late events (none, if the job has no watermark)."""
    landed = {table: _per_day(running, table, day + timedelta(days=1)).get(day) for table in TABLES}
    return landed | {"late_events": running.count("SELECT count(*) FROM late_events WHERE event_id LIKE 'lapse-%'")}


def test_forty_days_go_through_the_job_with_partitions_created_and_dropped_on_schedule(
    lapse_stack: RunningStack,
) -> None:
    running = lapse_stack
    dsn = running.admin_dsn()
    settings = running.embedded().settings
    partitions = settings.kafka_topic_partitions
    today = datetime.now(UTC).date()
    first = today - timedelta(days=DAYS)
    days = [first + timedelta(days=i) for i in range(DAYS)]
    before = _untouched(running)
    client = producer(f"127.0.0.1:{running.env['KAFKA_PORT']}")
    try:
        for i, day in enumerate(days):
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            for hour in range(PER_DAY):
                n = i * PER_DAY + hour
                event = RUN.event(n, int((start + timedelta(hours=hour, seconds=30)).timestamp() * 1000))
                client.send(settings.kafka_topic, value=event.to_json(), partition=n % partitions)
            end = start + timedelta(days=1)
            tick(client, settings.kafka_topic, partitions, int(end.timestamp() * 1000))
            client.flush(timeout=60)

            _wait(
                f"the clicks of {day} and their minute aggregates",
                lambda day=day: _landed(running, day) == LANDED_PER_DAY,
                60,
                lambda day=day: _landed(running, day),
            )
            with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'")
                assert aggregate_mismatches(cur, start, end) == [], day
            maintain(dsn, at=end - timedelta(seconds=1))
            kept_from = day - timedelta(days=RAW_DAYS)
            lapse_days = {d for d in day_partitions(dsn, "clicks") if first <= d < today}
            # Every lapse day from the first kept one to DAYS_AHEAD after this one (the lapse ends yesterday).
            assert lapse_days == {d for d in days[: i + 1 + DAYS_AHEAD] if d >= kept_from}, day
    finally:
        client.close(timeout=30)

    last_kept = days[-1] - timedelta(days=RAW_DAYS)
    assert _per_day(running, "clicks", today) == {d: PER_DAY for d in days if d >= last_kept}
    for table in TABLES[1:]:
        assert _per_day(running, table, today) == dict.fromkeys(days, PER_DAY), table
        assert set(days) <= day_partitions(running.admin_dsn(), table), table
    assert running.count("SELECT count(*) FROM late_events WHERE event_id LIKE 'lapse-%'") == 0
    assert running.count("SELECT count(*) FROM rejected_events WHERE position('lapse-'::bytea IN raw_payload) > 0") == 0
    assert running.count("SELECT count(*) FROM clicks_default") == 0
    # Every session of the lapse is kept (90 days), its pages all its clicks, the dropped days' too.
    _wait(
        "the lapse's sessions",
        lambda: (
            running.count("SELECT coalesce(sum(pages), 0) FROM session_stats WHERE session_id LIKE 'lapse-%'")
            == RUN.events
        ),
        30,
    )
    assert _untouched(running) == before
    for view in VIEWS:
        running.query(f"SELECT * FROM {view} LIMIT 1")
