"""What the health checks and the sustained bench read from Kafka, against a real broker."""

from __future__ import annotations

import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from stack.kafka import EmbeddedKafka
from wikistream.health import kafka_lag, messages_written


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
