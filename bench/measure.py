"""Each benchmark measurement, on a running isolated stack.

The baseline is the configuration of the stack this project replaces: the JDBC connector's default
flush (100 rows or 1 s), no batched-insert rewriting, and kafka-python's default producer settings
with no message key. It is measured in the same run, on the same machine, as our configuration.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass

import orjson
import psycopg2
from kafka import KafkaProducer

from producer.settings import KafkaClient, ProducerSettings
from producer.sinks import ConfluentKafkaSink, KafkaSink
from stack.embedded import EmbeddedStack
from wikistream.postgres import ADMIN_USER, libpq_dsn, single_row

STREAM_TABLES = (
    "clicks",
    "rejected_events",
    "late_events",
    "clicks_per_minute_article",
    "clicks_per_minute_referrer",
    "clicks_per_minute_country",
    "session_stats",
)


@dataclass(frozen=True)
class JobConfig:
    name: str
    env: dict[str, str]


TUNED = JobConfig("tuned", {})
LATENCY_WARMUP_S = 15
BASELINE = JobConfig(
    "baseline",
    {"SINK_BATCH_ROWS": "100", "SINK_FLUSH_INTERVAL": "1 s", "SINK_REWRITE_BATCHED_INSERTS": "false"},
)


def connect(stack: EmbeddedStack) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(
        libpq_dsn(
            host="127.0.0.1",
            port=stack.settings.postgres_port,
            dbname=stack.settings.postgres_db,
            user=ADMIN_USER,
            password=stack.credentials.admin_password,
        )
    )
    conn.autocommit = True
    return conn


def scalar(stack: EmbeddedStack, statement: str) -> float:
    with closing(connect(stack)) as conn, conn.cursor() as cur:
        cur.execute(statement)
        return float(single_row(cur)[0] or 0)


def truncate_stream_tables(stack: EmbeddedStack) -> None:
    with closing(connect(stack)) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(STREAM_TABLES)}")


def producer_command(total: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "producer", "run", "--total", str(total), "--seed", "7", *extra]


def run_producer(stack: EmbeddedStack, topic: str, total: int, *extra: str) -> float:
    """Run the producer CLI to completion; returns the rate it reports for its send loop (events/s)."""
    env = stack.producer_env() | {"KAFKA_TOPIC": topic}
    result = subprocess.run(
        producer_command(total, *extra),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    return producer_outcome(result.returncode, result.stderr, total)


def producer_outcome(returncode: int, stderr: str, total: int) -> float:
    """The send rate a finished producer run reports; an error unless it sent exactly `total`, all delivered."""
    match = re.search(r"done: (\d+) clicks at ([\d.]+)/s overall, (\d+) delivery errors", stderr)
    if returncode != 0 or match is None or int(match.group(1)) != total or int(match.group(3)) != 0:
        raise RuntimeError(f"producer run failed: {stderr[-2000:]}")
    return float(match.group(2))


# As fast as the simulation goes: no pacing, and a rate high enough that event times stay near now.
UNPACED = ("--no-pace", "--rate", "20000")
# The client of the live producer beside the job (latency and sustained runs): with kafka-python the
# producer needs about 60 us of CPU per event (0.3 cores at 5,000/s), with confluent-kafka about 22.
LIVE_CLIENT = KafkaClient.CONFLUENT_KAFKA


def paced(rate: int) -> tuple[str, ...]:
    """The producer's arguments for a live run at `rate` events/s beside the job."""
    return ("--rate", str(rate), "--client", LIVE_CLIENT.value)


def producer_dry_run_rate(stack: EmbeddedStack, total: int) -> float:
    return run_producer(stack, "unused", total, "--dry-run", *UNPACED)


def producer_kafka_rate(
    stack: EmbeddedStack, topic: str, total: int, client: KafkaClient = KafkaClient.KAFKA_PYTHON
) -> float:
    stack.kafka.ensure_topic(topic, stack.settings.kafka_topic_partitions)
    return run_producer(stack, topic, total, *UNPACED, "--client", client.value)


def producer_events(stack: EmbeddedStack, total: int) -> list[bytes]:
    """The producer's own events, serialised (from a dry run), to time a Kafka client alone."""
    return subprocess.run(
        producer_command(total, "--dry-run", *UNPACED),
        env=stack.producer_env(),
        capture_output=True,
        check=True,
    ).stdout.splitlines()


def _kafka_python_send_rate(
    producer: KafkaProducer, topic: str, records: Sequence[tuple[bytes | None, bytes]]
) -> float:
    """Events/s for kafka-python to send and flush the (key, value) records; closes the producer."""
    started = time.monotonic()
    for key, value in records:
        producer.send(topic, value=value, key=key)
    producer.flush()
    elapsed = time.monotonic() - started
    producer.close()
    return len(records) / elapsed


def baseline_producer_rate(stack: EmbeddedStack, topic: str, events: list[bytes]) -> float:
    """kafka-python with its defaults and no key, sending pre-serialised events."""
    stack.kafka.ensure_topic(topic, stack.settings.kafka_topic_partitions)
    producer = KafkaProducer(bootstrap_servers=stack.kafka.bootstrap)
    return _kafka_python_send_rate(producer, topic, [(None, line) for line in events])


def _keyed(events: list[bytes]) -> list[tuple[bytes, bytes]]:
    return [(orjson.loads(line)["user_id"].encode(), line) for line in events]


def kafka_python_rate(stack: EmbeddedStack, topic: str, events: list[bytes]) -> float:
    """The design card's client with the producer's settings (keyed, acks=all, idempotent), transport only."""
    stack.kafka.ensure_topic(topic, stack.settings.kafka_topic_partitions)
    records = _keyed(events)
    sink = KafkaSink(stack.kafka.bootstrap, topic, 3, ProducerSettings().delivery_timeout_s)
    return _kafka_python_send_rate(sink.producer, topic, records)


def confluent_kafka_rate(stack: EmbeddedStack, topic: str, events: list[bytes]) -> float:
    """The alternative client (librdkafka) with the producer's settings, transport only; every delivery checked."""
    stack.kafka.ensure_topic(topic, stack.settings.kafka_topic_partitions)
    records = _keyed(events)
    failures: list[object] = []
    sink = ConfluentKafkaSink(stack.kafka.bootstrap, topic, 3, ProducerSettings().delivery_timeout_s)

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(error)

    started = time.monotonic()
    for key, value in records:
        sink.produce(value, key, 0, delivered)
        sink.producer.poll(0)
    left = sink.producer.flush(60)
    elapsed = time.monotonic() - started
    if left or failures:
        raise RuntimeError(f"confluent-kafka: {left} undelivered, {len(failures)} failed ({failures[:3]})")
    return len(records) / elapsed


def wait_running(stack: EmbeddedStack, job_id: str) -> None:
    outcome = stack.flink.rest.wait_until_running(job_id, 180.0)
    if outcome != "RUNNING":
        raise RuntimeError(f"the measured job {job_id} is not RUNNING after 180 s: {outcome}")


def drain_throughput(
    stack: EmbeddedStack,
    config: JobConfig,
    topic: str,
    total: int,
    group: str,
    timeout_s: float = 1800.0,
    timed: AbstractContextManager[object] | None = None,
) -> float:
    """Events/s for the job to move a backlog of `total` events from Kafka into PostgreSQL (count verified).

    `timed` is entered when the job runs and the clock starts, and left when the last row landed,
    before the job is cancelled (the profiler samples exactly the drain).
    """
    truncate_stream_tables(stack)
    env = stack.job_env() | config.env | {"KAFKA_TOPIC": topic, "KAFKA_GROUP_ID": group}
    job_id = stack.flink.submit(env, restore_from=None)
    try:
        wait_running(stack, job_id)
        with timed or nullcontext():
            started = time.monotonic()
            while (landed := scalar(stack, "SELECT count(*) FROM clicks")) < total:
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(f"only {landed:.0f} of {total} events landed within {timeout_s:.0f} s")
                time.sleep(0.25)
            elapsed = time.monotonic() - started
    finally:
        stack.flink.rest.cancel(job_id)
    if landed != total:
        raise RuntimeError(f"{landed:.0f} rows for {total} events: loss or duplication")
    return total / elapsed


def latency_percentiles(
    stack: EmbeddedStack,
    config: JobConfig,
    topic: str,
    rate: int,
    seconds: int,
    group: str,
    warmup_s: int = LATENCY_WARMUP_S,
) -> dict[str, float]:
    """p50/p95/p99 (ms) from an event's creation to its row being committed, at a paced rate.

    The first warmup_s seconds of events are sent but left out of the percentiles: a freshly
    started JVM compiles the job's hot code then (the C2 compiler alone took half a core in the
    first 15 s of a drain; bench/profiles/). When the pipeline cannot keep up with the rate, the
    rows still missing after two minutes are reported as `missing` and the percentiles cover the
    rows that landed (a lower bound).
    """
    truncate_stream_tables(stack)
    stack.kafka.ensure_topic(topic, stack.settings.kafka_topic_partitions)
    env = stack.job_env() | config.env | {"KAFKA_TOPIC": topic, "KAFKA_GROUP_ID": group}
    job_id = stack.flink.submit(env, restore_from=None)
    total = rate * (warmup_s + seconds)
    try:
        wait_running(stack, job_id)
        run_producer(stack, topic, total, *paced(rate))
        deadline = time.monotonic() + 120
        while scalar(stack, "SELECT count(*) FROM clicks") < total and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stack.flink.rest.cancel(job_id)
    # In a paced run the producer stamps each event with the wall-clock time it creates it, and
    # PostgreSQL records when each row's transaction committed (track_commit_timestamp).
    with closing(connect(stack)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lat) FILTER (WHERE measured),"
            " count(*) FROM ("
            "  SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - event_time) * 1000 AS lat,"
            "   event_time >= min(event_time) OVER () + make_interval(secs => %s) AS measured FROM clicks) t",
            (warmup_s,),
        )
        percentiles, landed = single_row(cur)
    return latency_result(percentiles, landed, total)


def latency_result(percentiles: list[float] | None, landed: int, total: int) -> dict[str, float]:
    """The figures of a latency run; a run where no measured row landed is an error, not 0 ms."""
    if percentiles is None:
        raise RuntimeError(f"no measured row landed ({landed} of {total} events): no latency to report")
    p50, p95, p99 = percentiles
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "missing": total - landed}


def cold_start_seconds(stack: EmbeddedStack) -> float:
    """`make run` on an empty state directory (packages and jars already installed) to the first rows."""
    started = time.monotonic()
    stack.run(echo=lambda _line: None)
    return time.monotonic() - started
