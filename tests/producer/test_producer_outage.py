"""Kafka gone for longer than the client retries, the producer live: nothing lost, nothing twice, no restart.

A broker of the test's own is stopped while a journaled producer runs at a steady rate with a short
delivery timeout (PRODUCER_DELIVERY_TIMEOUT_S) and a small bound on events in flight
(PRODUCER_MAX_IN_FLIGHT). While Kafka is down the producer must wait instead of queueing (memory
bounded); its deliveries fail once the timeout passes, and the same process must send them again
from its journal once Kafka is back (no restart), after which its journal keeps advancing. At the
end every number of the run is in the topic exactly once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from producer.settings import KafkaClient
from stack.kafka import EmbeddedKafka
from stack.preflight import free_port
from tests.conftest import _world_readable_tempdir
from wikistream.layout import Layout
from wikistream.settings import REPO_ROOT, stack_settings

pytestmark = pytest.mark.slow

MAX_IN_FLIGHT = 300
# The client's shortest allowed timeout: above its 30-s request timeout and its linger.
DELIVERY_TIMEOUT_S = 31
OUTAGE_S = 50


@pytest.fixture()
def own_kafka() -> Iterator[EmbeddedKafka]:
    root = _world_readable_tempdir("wikistream-outage-kafka-")
    settings = stack_settings()
    kafka = EmbeddedKafka(
        Layout(root), free_port(), free_port(), settings.kafka_heap, settings.kafka_retention_properties()
    )
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(root, ignore_errors=True)


def _run_events(bootstrap: str, topic: str) -> Counter[int]:
    """How often each event number of the one run in the topic appears (ticks left out)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        ids = []
        for record in consumer:
            if not record.headers:
                ids.append(json.loads(record.value)["event_id"])
            if all(consumer.position(tp) >= end for tp, end in ends.items()):
                break
    finally:
        consumer.close()
    assert len({event_id.rsplit("-", 1)[0] for event_id in ids}) == 1, "one run"
    return Counter(int(event_id.rsplit("-", 1)[1]) for event_id in ids)


def _journal_emitted(path: Path) -> int:
    return int(json.loads(path.read_text())["state"]["emitted"])


@pytest.mark.parametrize("client", list(KafkaClient))
def test_kafka_down_past_the_delivery_timeout_is_ridden_out_by_the_same_process(
    own_kafka: EmbeddedKafka,
    postgres_env: dict[str, str],
    run_producer,
    data_dir: Path,
    tmp_path: Path,
    client: KafkaClient,
) -> None:
    topic = f"outage-{uuid.uuid4().hex[:8]}"
    own_kafka.ensure_topic(topic, 2)
    env = (
        os.environ
        | postgres_env
        | {
            "KAFKA_BOOTSTRAP_SERVERS": own_kafka.bootstrap,
            "KAFKA_TOPIC": topic,
            "PRODUCER_DATA_DIR": str(data_dir),
            "PRODUCER_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
            "PRODUCER_DELIVERY_TIMEOUT_S": str(DELIVERY_TIMEOUT_S),
            "PRODUCER_KAFKA_CLIENT": client.value,
        }
    )
    assert run_producer("seed-users", "--count", "50", "--source", "offline", env=env).returncode == 0
    journal = tmp_path / "journal.json"
    log = tmp_path / "producer.log"
    with log.open("wb") as out:
        producer = subprocess.Popen(
            [sys.executable, "-m", "producer", "run", "--rate", "200", "--journal", str(journal)],
            cwd=REPO_ROOT,
            env=env,
            stderr=out,
        )
        try:
            time.sleep(8)
            before_outage = _journal_emitted(journal)
            own_kafka.stop()
            time.sleep(OUTAGE_S)
            own_kafka.start()
            # Recovered (a new client, the journal's checkpoint, what Kafka holds skipped), and sending.
            deadline = time.monotonic() + 120
            while b"RECOVERING run" not in log.read_bytes() and time.monotonic() < deadline:
                time.sleep(1)
            time.sleep(20)
            assert producer.poll() is None, "the producer exited instead of riding out the outage"
            advanced = _journal_emitted(journal)
        finally:
            producer.send_signal(signal.SIGTERM)
            producer.wait(timeout=120)
    text = log.read_text()
    assert "RECOVERING run" in text, text[-3000:]
    assert "backpressure" in text, "the producer did not wait for Kafka"
    in_flight = [int(n) for n in re.findall(r"in flight (\d+)", text)]
    # A step (10 ms at 200/s) may pass the bound by its few events.
    assert max(in_flight) <= MAX_IN_FLIGHT + 10, f"events in flight grew to {max(in_flight)}"
    assert advanced > before_outage + 200 * 10, "the journal stopped advancing after the outage"
    numbers = _run_events(own_kafka.bootstrap, topic)
    assert sorted(numbers) == list(range(len(numbers))), "events missing"
    assert max(numbers.values()) == 1, f"sent twice: {[n for n, c in numbers.items() if c > 1][:10]}"
    assert len(numbers) > advanced
