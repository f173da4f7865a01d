"""What the health checks and the sustained bench read from Kafka, against a real broker (and PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from contextlib import closing

import psycopg2
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from stack.kafka import EmbeddedKafka
from wikistream.health import (
    HealthThresholds,
    PipelineHealth,
    judge_flow,
    kafka_lag,
    landed,
    messages_written,
    record,
    topic_positions,
)


def test_messages_written_and_the_lag_of_a_group_count_per_partition(embedded_kafka: EmbeddedKafka) -> None:
    topic, group = f"offsets-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    embedded_kafka.ensure_topic(topic, 2)
    producer = KafkaProducer(bootstrap_servers=embedded_kafka.bootstrap, acks="all")
    for partition, count in ((0, 5), (1, 3)):
        for n in range(count):
            producer.send(topic, f"m{n}".encode(), partition=partition)
    producer.flush()
    producer.close()
    assert messages_written(embedded_kafka.bootstrap, topic) == 8

    # Committing first also waits for the broker's group coordinator, which a fresh broker creates late.
    consumer = KafkaConsumer(bootstrap_servers=embedded_kafka.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1)})
    finally:
        consumer.close()
    assert kafka_lag(embedded_kafka.bootstrap, topic, group) == {0: 3, 1: 3}
    assert kafka_lag(embedded_kafka.bootstrap, topic, f"{group}-never-committed") == {0: 5, 1: 3}
    assert messages_written(embedded_kafka.bootstrap, topic) == 8


def test_messages_expired_before_the_group_read_them_are_counted_recorded_and_degrade(
    embedded_kafka: EmbeddedKafka, postgres_dsn: str
) -> None:
    topic, group = f"expired-{uuid.uuid4().hex[:8]}", f"group-{uuid.uuid4().hex[:8]}"
    embedded_kafka.ensure_topic(topic, 2)
    producer = KafkaProducer(bootstrap_servers=embedded_kafka.bootstrap, acks="all")
    for n in range(10):
        producer.send(topic, f"m{n}".encode(), partition=0)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=embedded_kafka.bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1)})
    finally:
        consumer.close()
    # What retention does to a partition the group fell behind on: its start moves past the group.
    admin = KafkaAdminClient(bootstrap_servers=embedded_kafka.bootstrap)
    try:
        admin.delete_records({TopicPartition(topic, 0): 6})
    finally:
        admin.close()

    positions = topic_positions(embedded_kafka.bootstrap, topic, group)
    assert positions.expired_unread() == {0: (2, 5)}
    assert positions.lag() == {0: 4, 1: 0}
    assert positions.newest_ms is not None

    health = PipelineHealth(observed_at=time.time(), skipped=positions.expired_unread())
    with closing(psycopg2.connect(postgres_dsn)) as conn:
        record(conn, health)
        # Seen again, further on: the same gap, widened, not a second row.
        record(conn, PipelineHealth(observed_at=time.time() + 1, skipped={0: (2, 7)}))
        with conn.cursor() as cur:
            cur.execute("SELECT kafka_partition, first_offset, last_offset FROM skipped_offsets")
            assert cur.fetchall() == [(0, 2, 7)]
    arrivals = landed(postgres_dsn)
    assert arrivals.skipped_recently == 6
    judged = PipelineHealth(observed_at=time.time(), skipped_recently=arrivals.skipped_recently)
    judge_flow(judged, HealthThresholds(), producer_expected=False)
    assert judged.degraded and "6 messages expired unread" in judged.reasons[0]
