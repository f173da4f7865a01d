"""The Kafka sink against a real broker (kafka_bootstrap) with users from a real PostgreSQL (postgres_dsn)."""

from __future__ import annotations

import json
import uuid

import psycopg2
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.partitioner.default import murmur2

from producer.settings import KafkaClient
from wikistream.events import TICK_HEADER

LOG_APPEND_TIME = 1


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    name = f"producer-test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(name=name, num_partitions=2, replication_factor=1)])
        yield name
        admin.delete_topics([name])
    finally:
        admin.close()


def _consume_all(bootstrap: str, topic: str) -> list:
    """Every record of the topic: read up to each partition's end offset, so an extra one shows too."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=15000)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        records = []
        for record in consumer:
            records.append(record)
            if all(consumer.position(tp) >= end for tp, end in ends.items()):
                break
        assert len(records) == sum(ends.values()), "records up to the end offsets"
    finally:
        consumer.close()
    return records


@pytest.mark.parametrize("client", list(KafkaClient))
def test_run_sends_exactly_total_events_keyed_and_timestamped(
    kafka_bootstrap: str,
    topic: str,
    postgres_dsn: str,
    postgres_env: dict[str, str],
    run_producer,
    client: KafkaClient,
) -> None:
    env = postgres_env | {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC": topic}
    assert run_producer("seed-users", "--count", "50", "--source", "offline", env=env).returncode == 0
    result = run_producer("run", "--total", "1500", "--rate", "1000", "--seed", "8", "--client", client, env=env)
    assert result.returncode == 0, result.stderr
    everything = _consume_all(kafka_bootstrap, topic)
    ticks = [record for record in everything if record.headers]
    records = [record for record in everything if not record.headers]
    _check_ticks(ticks, records)
    assert len(records) == 1500
    events = [json.loads(record.value) for record in records]
    assert len({event["event_id"] for event in events}) == 1500
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT user_id FROM users")
        assert {event["user_id"] for event in events} <= {user_id for (user_id,) in cur.fetchall()}
    for record, event in zip(records, events, strict=True):
        assert record.key == event["user_id"].encode()
        # The Java client's partitioner, whichever client sent: a user's clicks stay on one partition.
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % 2
        # The broker stamps every record with its own clock (LogAppendTime), never before the event.
        assert record.timestamp_type == LOG_APPEND_TIME and record.timestamp >= event["event_time_ms"] - 1_000
    assert "errors 0, in flight 0" in result.stderr.decode()


def _check_ticks(ticks: list, records: list) -> None:
    """Every partition is ticked, a tick is empty, and no click after a tick on its partition is older."""
    assert {tick.partition for tick in ticks} == {0, 1}, "a paced run ticks every partition"
    for tick in ticks:
        assert tick.value == b"" and [name for name, _ in tick.headers] == [TICK_HEADER]
        tick_ms = int(dict(tick.headers)[TICK_HEADER])
        later = [
            json.loads(r.value)["event_time_ms"]
            for r in records
            if r.partition == tick.partition and r.offset > tick.offset
        ]
        assert all(event_time >= tick_ms for event_time in later), "a click after a tick is older than it"


@pytest.mark.parametrize("client", list(KafkaClient))
def test_a_missing_topic_is_one_clear_error(
    kafka_bootstrap: str, postgres_env: dict[str, str], run_producer, client: KafkaClient
) -> None:
    missing = f"no-such-topic-{uuid.uuid4().hex[:8]}"
    env = postgres_env | {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC": missing}
    result = run_producer("run", "--total", "10", "--client", client, env=env)
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines()[-1].startswith(f"error: Kafka topic '{missing}' not found on")
    assert "Traceback" not in result.stderr.decode()
