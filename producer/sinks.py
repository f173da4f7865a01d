"""Where click events go: Kafka (the stack) or stdout as JSON lines (--dry-run)."""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import BinaryIO, Protocol, cast

import confluent_kafka
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.partitioner.default import DefaultPartitioner, murmur2
from kafka.producer.future import RecordMetadata
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from producer.errors import ProducerError
from producer.settings import KafkaClient
from wikistream.events import TICK_HEADER, ClickEvent

log = logging.getLogger(__name__)
# Batching of the Kafka producer: a batch waits at most LINGER_MS for more records, up to BATCH_BYTES.
LINGER_MS = 20
BATCH_BYTES = 256 * 1024
# Delivery failures logged one by one; later ones are only counted in the stats line.
LOGGED_DELIVERY_ERRORS = 5
# How long a send waits for room in a full buffer, or for a topic's metadata, before the run fails.
# The run's own bound on events in flight (producer/runner.py) keeps the buffer from filling.
SEND_BLOCK_S = 30
# How long a client given up on (its deliveries failed, the run resends from its journal) may take to close.
ABANDON_S = 5


class SinkError(ProducerError):
    """The sink is unreachable or stopped accepting events."""


class ReaderGone(Exception):
    """The reader of stdout went away (e.g. `| head`): a normal end for a dry run."""


# Called with the Kafka position of each delivered event of a send() (producer/journal.py).
OnDelivered = Callable[[int, int], None]


class Sink(Protocol):
    def send(self, events: Sequence[ClickEvent], on_delivered: OnDelivered | None = None) -> None: ...

    def tick(self, time_ms: int) -> None:
        """Tell every partition no later click of this producer has an earlier event time than time_ms."""

    def wait(self, timeout_s: float) -> None:
        """Let deliveries be acknowledged for up to timeout_s (the run waits for room)."""

    def abandon(self) -> None:
        """Drop what is still unsent and close within seconds (the run sends it again from its journal)."""

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

    def tick(self, time_ms: int) -> None:
        """Ticks are for the job's event time; a reader of JSON lines has no use for them."""

    def wait(self, timeout_s: float) -> None:
        """Nothing is ever in flight on stdout."""

    def abandon(self) -> None:
        self.close()

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


def _connect_retrying(bootstrap_servers: str, attempts: int, errors: type[Exception]) -> Retrying:
    return Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=1, max=8),
        retry=retry_if_exception_type(errors),
        before_sleep=lambda state: log.warning(
            "Kafka at %s not reachable (attempt %d of %d): %s",
            bootstrap_servers,
            state.attempt_number,
            attempts,
            state.outcome.exception() if state.outcome else "",
        ),
        reraise=True,
    )


def _unreachable(bootstrap_servers: str, attempts: int, error: Exception) -> SinkError:
    return SinkError(f"Kafka at {bootstrap_servers} unreachable after {attempts} attempts: {error}")


def _missing_topic(topic: str, bootstrap_servers: str, error: object) -> SinkError:
    # The stack creates the topic and auto-creation is off, so a missing one is a wrong name or stack.
    return SinkError(f"Kafka topic '{topic}' not found on {bootstrap_servers}: {error}")


class _KafkaSinkBase:
    """What both Kafka sinks share: the topic, the flush timeout, the delivery counts and their log."""

    def __init__(self, topic: str, flush_timeout_s: float) -> None:
        self.topic = topic
        self.flush_timeout_s = flush_timeout_s
        self._sent = 0
        self._acked = 0
        self._failed = 0
        # Ticks sent and not yet answered: none is sent while some are, so an outage queues no ticks.
        self._ticks_in_flight = 0

    @staticmethod
    def _tick_headers(time_ms: int) -> list[tuple[str, str | bytes | None]]:
        return [(TICK_HEADER, str(time_ms).encode())]

    def _tick_done(self, *_: object) -> None:
        self._ticks_in_flight -= 1

    def _delivery_failed(self, error: object) -> None:
        self._failed += 1
        if self._failed <= LOGGED_DELIVERY_ERRORS:
            log.error("delivery to Kafka failed: %s", error)

    @property
    def errors(self) -> int:
        return self._failed

    @property
    def in_flight(self) -> int:
        return self._sent - self._acked - self._failed


class KafkaSink(_KafkaSinkBase):
    """An idempotent, acks=all kafka-python producer; key = user_id, record timestamp = event time."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        connect_attempts: int,
        delivery_timeout_s: float,
        flush_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(topic, flush_timeout_s)
        if importlib.util.find_spec("crc32c") is None:
            log.warning(
                "the crc32c package is not installed: kafka-python checksums every record batch in pure "
                "Python (~1 us a byte), which limits the producer to a few thousand events per second"
            )
        self.producer = self._connect(bootstrap_servers, connect_attempts, delivery_timeout_s)
        try:
            self.partitions = sorted(self.producer.partitions_for(topic))
        except KafkaTimeoutError as error:
            self.producer.close(timeout=5)
            raise _missing_topic(topic, bootstrap_servers, error) from error

    @staticmethod
    def _connect(bootstrap_servers: str, attempts: int, delivery_timeout_s: float) -> KafkaProducer:
        try:
            return _connect_retrying(bootstrap_servers, attempts, KafkaError)(
                KafkaProducer,
                bootstrap_servers=bootstrap_servers,
                acks="all",
                enable_idempotence=True,
                partitioner=MemoisedKeyPartitioner(),
                linger_ms=LINGER_MS,
                batch_size=BATCH_BYTES,
                bootstrap_timeout_ms=5000,
                # Retried in order, under the idempotent producer's sequence numbers: no duplicate.
                delivery_timeout_ms=round(delivery_timeout_s * 1000),
                # Kafka gone: reconnect every 2 s at most, so deliveries resume soon after it is back.
                reconnect_backoff_max_ms=2000,
                # send() blocks this long when the buffer is full.
                max_block_ms=SEND_BLOCK_S * 1000,
            )
        except KafkaError as error:
            raise _unreachable(bootstrap_servers, attempts, error) from error

    def _on_success(self, on_delivered: OnDelivered | None, metadata: RecordMetadata) -> None:
        self._acked += 1
        if on_delivered is not None:
            on_delivered(metadata.partition, metadata.offset)

    def send(self, events: Sequence[ClickEvent], on_delivered: OnDelivered | None = None) -> None:
        try:
            for event in events:
                future = self.producer.send(
                    self.topic,
                    value=event.to_json(),
                    key=event.user_id.encode(),
                    timestamp_ms=event.event_time_ms,
                )
                # One callback per outcome: each costs the client's sender thread a call per event.
                future.add_callback(self._on_success, on_delivered)
                future.add_errback(self._delivery_failed)
                self._sent += 1
        except KafkaTimeoutError as error:
            raise SinkError(f"Kafka stopped accepting events: {error}") from error

    def wait(self, timeout_s: float) -> None:
        # Acknowledgements arrive on the client's own thread.
        time.sleep(timeout_s)

    def abandon(self) -> None:
        # A request already on the wire gets ABANDON_S to be answered before the scan that follows.
        try:
            self.producer.close(timeout=ABANDON_S)
        except KafkaTimeoutError:
            log.warning("the old Kafka client did not close within %d s", ABANDON_S)

    def tick(self, time_ms: int) -> None:
        if self._ticks_in_flight:
            return
        for partition in self.partitions:
            future = self.producer.send(self.topic, value=b"", partition=partition, headers=self._tick_headers(time_ms))
            self._ticks_in_flight += 1
            future.add_both(self._tick_done)

    def close(self) -> None:
        try:
            self.producer.flush(timeout=self.flush_timeout_s)
        except KafkaTimeoutError:
            log.error("%d events still unacknowledged after %.0f s", self.in_flight, self.flush_timeout_s)
        self.producer.close(timeout=self.flush_timeout_s)


class ConfluentKafkaSink(_KafkaSinkBase):
    """KafkaSink's contract on confluent-kafka: same keys, timestamps, partitions and guarantees.

    Delivery reports are served by poll() on the caller's thread, after every send().
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        connect_attempts: int,
        delivery_timeout_s: float,
        flush_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(topic, flush_timeout_s)
        self.producer = confluent_kafka.Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "acks": "all",
                "enable.idempotence": True,
                # The Java client's partitioner, as kafka-python's: a user's clicks land where they did.
                "partitioner": "murmur2_random",
                "linger.ms": LINGER_MS,
                "batch.size": BATCH_BYTES,
                # An event unacknowledged this long is a delivery error (as with kafka-python).
                "delivery.timeout.ms": round(delivery_timeout_s * 1000),
                "reconnect.backoff.max.ms": 2000,
                "logger": logging.getLogger("kafka.confluent"),
            }
        )
        try:
            metadata = _connect_retrying(bootstrap_servers, connect_attempts, confluent_kafka.KafkaException)(
                self.producer.list_topics, topic, timeout=5
            )
        except confluent_kafka.KafkaException as error:
            raise _unreachable(bootstrap_servers, connect_attempts, error) from error
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            raise _missing_topic(topic, bootstrap_servers, found.error if found else "no metadata")
        self.partitions = sorted(found.partitions)

    def send(self, events: Sequence[ClickEvent], on_delivered: OnDelivered | None = None) -> None:
        def report(error: confluent_kafka.KafkaError | None, message: confluent_kafka.Message) -> None:
            if error is not None:
                self._delivery_failed(error)
                return
            self._acked += 1
            if on_delivered is not None:
                # Typed optional for messages not yet produced; a delivered one has both.
                on_delivered(cast(int, message.partition()), cast(int, message.offset()))

        for event in events:
            self.produce(event.to_json(), event.user_id.encode(), event.event_time_ms, report)
            self._sent += 1
        self.producer.poll(0)

    def produce(
        self,
        value: bytes,
        key: bytes,
        timestamp_ms: int,
        on_delivery: Callable[[confluent_kafka.KafkaError | None, confluent_kafka.Message], None],
    ) -> None:
        """One record (timestamp 0: the time of sending); a full local queue is served (delivery reports)
        for as long as kafka-python's send() would block."""
        deadline = None
        while True:
            try:
                self.producer.produce(self.topic, value, key, timestamp=timestamp_ms, on_delivery=on_delivery)
                return
            except BufferError:
                # The clock is read only here, off the hot path.
                deadline = deadline or time.monotonic() + SEND_BLOCK_S
                if time.monotonic() > deadline:
                    raise SinkError(f"Kafka stopped accepting events: queue full for {SEND_BLOCK_S} s") from None
                self.producer.poll(0.05)

    def wait(self, timeout_s: float) -> None:
        # Delivery reports are served by poll(), on this thread.
        self.producer.poll(timeout_s)

    def abandon(self) -> None:
        self.producer.purge(in_queue=True, in_flight=False)
        self.producer.flush(ABANDON_S)

    def tick(self, time_ms: int) -> None:
        if self._ticks_in_flight:
            return
        for partition in self.partitions:
            self._ticks_in_flight += 1
            self.producer.produce(
                self.topic, b"", partition=partition, headers=self._tick_headers(time_ms), on_delivery=self._tick_done
            )

    def close(self) -> None:
        left = self.producer.flush(self.flush_timeout_s)
        if left:
            log.error("%d events still unacknowledged after %.0f s", left, self.flush_timeout_s)


def kafka_sink(
    client: KafkaClient, bootstrap_servers: str, topic: str, connect_attempts: int, delivery_timeout_s: float
) -> KafkaSink | ConfluentKafkaSink:
    sink_class = ConfluentKafkaSink if client is KafkaClient.CONFLUENT_KAFKA else KafkaSink
    return sink_class(bootstrap_servers, topic, connect_attempts, delivery_timeout_s)
