"""The one topic tool (wikistream/KafkaTopicInit.java) as the embedded stack runs it, against a real broker."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer

from stack.kafka import EmbeddedKafka
from stack.preflight import PrerequisiteError


def _partitions(bootstrap: str, topic: str) -> set[int] | None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return consumer.partitions_for_topic(topic)
    finally:
        consumer.close()


def test_the_topic_is_created_once_with_its_partitions(embedded_kafka: EmbeddedKafka) -> None:
    topic = f"topic-tool-{uuid.uuid4().hex[:8]}"
    assert not _partitions(embedded_kafka.bootstrap, topic)
    assert embedded_kafka.ensure_topic(topic, 3) is True
    assert _partitions(embedded_kafka.bootstrap, topic) == {0, 1, 2}
    assert embedded_kafka.ensure_topic(topic, 3) is False
    assert _partitions(embedded_kafka.bootstrap, topic) == {0, 1, 2}


def test_a_topic_the_broker_refuses_fails_with_its_reason(embedded_kafka: EmbeddedKafka) -> None:
    with pytest.raises(PrerequisiteError, match="creating the Kafka topic 'bad/name' failed:.*InvalidTopicException"):
        embedded_kafka.ensure_topic("bad/name", 1, timeout_s=60)
