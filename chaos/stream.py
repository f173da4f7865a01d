"""Known events at a steady rate, sent the way a careful client sends them (acks=all, idempotent).

Every event of a run carries the run's tag: event ids `<tag>-E<n>`, articles `<tag>-A<k>`,
sessions `<tag>-S<k>` (a session's seq numbers are unique, as the job's page count assumes), so
each table can be counted for exactly this run. Ticks (wikistream/events.py TICK_HEADER: one per
partition a second, stamped now) keep every partition's event time moving with the clock, so the
run's minute windows close even while the producer is down; ticks are not clicks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaProducer

from wikistream.events import TICK_HEADER, ClickEvent

ARTICLES = 50
USERS = 20


@dataclass(frozen=True)
class Run:
    tag: str
    events: int
    rate: float
    sessions: int

    def event(self, n: int, now_ms: int) -> ClickEvent:
        session = n % self.sessions
        return ClickEvent(
            event_id=f"{self.tag}-E{n}",
            user_id=f"{self.tag}-U{n % USERS}",
            session_id=f"{self.tag}-S{session}",
            seq=n // self.sessions + 1,
            prev="other-search" if n < self.sessions else f"{self.tag}-A{(n - self.sessions) % ARTICLES}",
            curr=f"{self.tag}-A{n % ARTICLES}",
            type="link" if n >= self.sessions else "external",
            event_time_ms=now_ms,
        )


def producer(bootstrap: str) -> KafkaProducer:
    # Delivery is retried for 10 minutes: the broker itself may be the process that was killed.
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        delivery_timeout_ms=600_000,
        request_timeout_ms=30_000,
        max_block_ms=600_000,
        reconnect_backoff_max_ms=2_000,
    )


def send(run: Run, bootstrap: str, topic: str, partitions: int, at: dict[int, Callable[[], None]] | None = None) -> int:
    """Send the run at its rate; at[n] is called just before event n (a fault). Returns failed deliveries."""
    client = producer(bootstrap)
    failures: list[Exception] = []
    at = at or {}
    started = time.monotonic()
    next_tick = started
    try:
        for n in range(run.events):
            if n in at:
                at[n]()
            due = started + n / run.rate
            while (now := time.monotonic()) < due:
                time.sleep(min(due - now, 0.01))
            now_ms = time.time_ns() // 1_000_000
            event = run.event(n, now_ms)
            future = client.send(topic, key=event.user_id.encode(), value=event.to_json(), timestamp_ms=now_ms)
            future.add_errback(failures.append)
            if now >= next_tick:
                tick(client, topic, partitions, now_ms)
                next_tick = now + 1.0
        client.flush(timeout=600)
    finally:
        client.close(timeout=60)
    return len(failures)


def tick(client: KafkaProducer, topic: str, partitions: int, now_ms: int) -> None:
    """One tick per partition: no event earlier than now_ms follows on it."""
    for partition in range(partitions):
        client.send(topic, value=b"", partition=partition, headers=[(TICK_HEADER, str(now_ms).encode())])


def tick_until(stop: Callable[[], bool], bootstrap: str, topic: str, partitions: int) -> None:
    """Ticks only, once a second, until stop() is true: closes the windows of a run that was sent."""
    client = producer(bootstrap)
    try:
        while not stop():
            tick(client, topic, partitions, time.time_ns() // 1_000_000)
            client.flush(timeout=60)
            time.sleep(1.0)
    finally:
        client.close(timeout=30)
