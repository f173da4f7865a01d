"""Where click events go: Kafka (the stack) or stdout as JSON lines (--dry-run)."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from typing import BinaryIO, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.partitioner.default import DefaultPartitioner, murmur2
from kafka.producer.future import RecordMetadata
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from producer.errors import ProducerError
from wikistream.events import ClickEvent

log = logging.getLogger(__name__)
# Batching of the Kafka producer: a batch waits at most LINGER_MS for more records, up to BATCH_BYTES.
LINGER_MS = 20
BATCH_BYTES = 256 * 1024
# Delivery failures logged one by one; later ones are only counted in the stats line.
LOGGED_DELIVERY_ERRORS = 5


class SinkError(ProducerError):
    """The sink is unreachable or stopped accepting events."""


class ReaderGone(Exception):
    """The reader of stdout went away (e.g. `| head`): a normal end for a dry run."""


# Called with the Kafka position of each delivered event of a send() (producer/journal.py).
OnDelivered = Callable[[int, int], None]


class Sink(Protocol):
    def send(self, events: Sequence[ClickEvent], on_delivered: OnDelivered | None = None) -> None: ...

    @property
    def errors(self) -> int: ...

    @property
    def in_flight(self) -> int: ...

    def close(self) -> None: ...


class StdoutSink:
    """JSON lines, one ClickEvent.to_json() per line."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def send(self, events: Sequence[ClickEvent], on_delivered: OnDelivered | None = None) -> None:
        if not events:
            return
        try:
            self.stream.write(b"\n".join(event.to_json() for event in events) + b"\n")
            # Flushed per batch, so a reader of a paced run sees clicks as they happen.
            self.stream.flush()
        except BrokenPipeError:
            # Later writes (and the interpreter's final flush) go nowhere instead of failing again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())
            raise ReaderGone from None

    @property
    def errors(self) -> int:
        return 0

    @property
    def in_flight(self) -> int:
        return 0

    def close(self) -> None:
        self.stream.flush()


class MemoisedKeyPartitioner(DefaultPartitioner):  # type: ignore[misc]  # kafka-python ships no types
    """The default partitioner (the Java client's murmur2 of the key), remembering each key's hash.

    kafka-python's murmur2 is pure Python, ~50 us a call: a large share of a send at 10,000/s, for
    keys that repeat (a few thousand user ids).
    """

    def __init__(self) -> None:
        self._hashes: dict[bytes, int] = {}

    def partition(self, topic, key, serialized_key, value, serialized_value, cluster):  # type: ignore[no-untyped-def]  # the untyped base class fixes the signature
        if serialized_key is None:
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        digest = self._hashes.get(serialized_key)
        if digest is None:
            digest = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        partitions = sorted(cluster.partitions_for_topic(topic))
        return partitions[digest % len(partitions)]


class KafkaSink:
    """An idempotent, acks=all producer; key = user_id, record timestamp = event time."""

    def __init__(
        self, bootstrap_servers: str, topic: str, connect_attempts: int, flush_timeout_s: float = 30.0
    ) -> None:
        self.topic = topic
        self.flush_timeout_s = flush_timeout_s
        self._sent = 0
        self._acked = 0
        self._failed = 0
        if importlib.util.find_spec("crc32c") is None:
            log.warning(
                "the crc32c package is not installed: kafka-python checksums every record batch in pure "
                "Python (~1 us a byte), which limits the producer to a few thousand events per second"
            )
        self.producer = self._connect(bootstrap_servers, connect_attempts)
        try:
            # Fails fast if the topic is missing: the stack creates it and auto-creation is off.
            self.producer.partitions_for(topic)
        except KafkaTimeoutError as error:
            self.producer.close(timeout=5)
            raise SinkError(f"Kafka topic '{topic}' not found on {bootstrap_servers}: {error}") from error

    @staticmethod
    def _connect(bootstrap_servers: str, attempts: int) -> KafkaProducer:
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=1, max=8),
            retry=retry_if_exception_type(KafkaError),
            before_sleep=lambda state: log.warning(
                "Kafka at %s not reachable (attempt %d of %d): %s",
                bootstrap_servers,
                state.attempt_number,
                attempts,
                state.outcome.exception() if state.outcome else "",
            ),
            reraise=True,
        )
        try:
            return retrying(
                KafkaProducer,
                bootstrap_servers=bootstrap_servers,
                acks="all",
                enable_idempotence=True,
                partitioner=MemoisedKeyPartitioner(),
                linger_ms=LINGER_MS,
                batch_size=BATCH_BYTES,
                bootstrap_timeout_ms=5000,
                # send() blocks this long when the buffer is full, i.e. when Kafka went away mid-run.
                max_block_ms=30000,
            )
        except KafkaError as error:
            raise SinkError(f"Kafka at {bootstrap_servers} unreachable after {attempts} attempts: {error}") from error

    def _on_success(self, _metadata: object) -> None:
        self._acked += 1

    def _on_error(self, error: Exception) -> None:
        self._failed += 1
        if self._failed <= LOGGED_DELIVERY_ERRORS:
            log.error("delivery to Kafka failed: %s", error)

    def send(self, events: Sequence[ClickEvent], on_delivered: OnDelivered | None = None) -> None:
        try:
            for event in events:
                future = self.producer.send(
                    self.topic,
                    value=event.to_json(),
                    key=event.user_id.encode(),
                    timestamp_ms=event.event_time_ms,
                )
                future.add_callback(self._on_success)
                if on_delivered is not None:
                    future.add_callback(_position, on_delivered)
                future.add_errback(self._on_error)
                self._sent += 1
        except KafkaTimeoutError as error:
            raise SinkError(f"Kafka stopped accepting events: {error}") from error

    @property
    def errors(self) -> int:
        return self._failed

    @property
    def in_flight(self) -> int:
        return self._sent - self._acked - self._failed

    def close(self) -> None:
        try:
            self.producer.flush(timeout=self.flush_timeout_s)
        except KafkaTimeoutError:
            log.error("%d events still unacknowledged after %.0f s", self.in_flight, self.flush_timeout_s)
        self.producer.close(timeout=self.flush_timeout_s)


def _position(on_delivered: OnDelivered, metadata: RecordMetadata) -> None:
    on_delivered(metadata.partition, metadata.offset)
