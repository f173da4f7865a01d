"""The producer's journal: a killed run resumes without losing or repeating an event.

Every few seconds the producer notes a checkpoint: the simulator's state at a step boundary
(producer/sessions.py, SimulatorState), written only once every event before that boundary is
acknowledged by Kafka, with the highest offset per partition among them. Kafka keeps each
partition in send order (idempotent producer), so every later event of the run lies after those
offsets. A restarted producer reads the partitions from there, collects the ids of its own events
that made it (ids are `<run id>-<n>`), restores the simulator at the checkpoint, and regenerates
the stream: what Kafka holds is skipped, what it lacks is sent. The journal is one JSON file,
replaced atomically, mode 0600.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from kafka import KafkaConsumer, TopicPartition

from producer.sessions import ClickSimulator, SimulatorState
from producer.sinks import OnDelivered

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    # What must match for a run to be resumed (rate, speedup, dataset, users, total).
    params: dict[str, object]
    state: SimulatorState
    # Per partition, the highest offset of the run's events before the checkpoint (absent: none).
    offsets: dict[int, int]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Checkpoint | None:
        try:
            raw = json.loads(self.path.read_text())
            return Checkpoint(
                raw["params"], SimulatorState(**raw["state"]), {int(p): o for p, o in raw["offsets"].items()}
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            log.warning("journal %s is unreadable (%s): starting a new run", self.path, error)
            return None

    def save(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(
                orjson.dumps(
                    {
                        "params": checkpoint.params,
                        "state": asdict(checkpoint.state),
                        "offsets": {str(p): o for p, o in checkpoint.offsets.items()},
                    }
                )
            )
        temporary.replace(self.path)


@dataclass
class _Step:
    """The events of one simulator step in flight: how many are unacknowledged, the offsets of the others."""

    remaining: int
    offsets: dict[int, int] = field(default_factory=dict)


class JournalWriter:
    """Tracks deliveries step by step and saves a checkpoint once everything before it is acknowledged.

    Delivery callbacks run on the Kafka client's thread, hence the lock.
    """

    def __init__(
        self, journal: Journal, params: dict[str, object], offsets: dict[int, int], interval_s: float = 5.0
    ) -> None:
        self.journal = journal
        self.params = params
        self.interval_s = interval_s
        self._lock = threading.Lock()
        # _Step entries, and SimulatorState marks: a mark is saved when every step before it is done.
        self._queue: deque[_Step | SimulatorState] = deque()
        self._offsets = dict(offsets)
        # The first step is marked at once: a run is resumable from its very start.
        self._last_mark = -math.inf

    def before_step(self, simulator: ClickSimulator, force: bool = False) -> None:
        """At a step boundary: now and then, a mark of the simulator's state; saves what is complete."""
        if force or time.monotonic() - self._last_mark >= self.interval_s:
            with self._lock:
                self._queue.append(simulator.snapshot())
            self._last_mark = time.monotonic()
        self._save_complete()

    def step(self, count: int) -> OnDelivered:
        """A step of count events is sent: returns the callback their deliveries report to."""
        step = _Step(count)
        with self._lock:
            self._queue.append(step)

        def delivered(partition: int, offset: int) -> None:
            with self._lock:
                step.remaining -= 1
                if offset > step.offsets.get(partition, -1):
                    step.offsets[partition] = offset

        return delivered

    def _save_complete(self) -> None:
        marks = []
        with self._lock:
            while self._queue:
                head = self._queue[0]
                if isinstance(head, _Step):
                    if head.remaining > 0:
                        break
                    for partition, offset in head.offsets.items():
                        self._offsets[partition] = max(offset, self._offsets.get(partition, -1))
                else:
                    marks.append((head, dict(self._offsets)))
                self._queue.popleft()
        if marks:
            state, offsets = marks[-1]
            try:
                self.journal.save(Checkpoint(self.params, state, offsets))
            except OSError as error:
                # A full disk must not stop the stream: the saved checkpoint stays valid, only older,
                # and the next mark tries again.
                log.warning(
                    "journal %s not saved (%s): a restart would resume from the one before", self.journal.path, error
                )


def delivered_after(bootstrap: str, topic: str, offsets: dict[int, int], run_id: str) -> set[str]:
    """Ids of the run's events in the topic after the checkpoint's offsets (read up to the current end)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, request_timeout_ms=30_000
    )
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, offsets.get(tp.partition, -1) + 1)
        prefix = f"{run_id}-"
        found: set[str] = set()
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} after the journal's offsets took over 120 s")
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    try:
                        event_id = orjson.loads(record.value).get("event_id")
                    except (orjson.JSONDecodeError, AttributeError):
                        continue
                    if isinstance(event_id, str) and event_id.startswith(prefix):
                        found.add(event_id)
        return found
    finally:
        consumer.close()
