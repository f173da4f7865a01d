"""The fault matrix and the soak: known events at a steady rate, kill -9 mid-stream, no human action, count."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chaos.stream import Run, send
from chaos.target import Target
from chaos.verify import (
    Landing,
    ingestion_times,
    newest_producer_run,
    producer_run_mismatches,
    run_count,
    wait_for_landing,
)
from flink_job.settings import SessionSinkSettings, duration_seconds


class ChaosError(RuntimeError):
    """The matrix could not do what it meant to (a service to kill was not running)."""


@dataclass
class Kill:
    fault: str
    pid: int
    at: float
    # Seconds until the service ran again under a new pid (None: it did not come back).
    back_s: float | None = None


@dataclass
class FaultResult:
    fault: str
    landing: Landing
    kills: list[Kill] = field(default_factory=list)
    failed_deliveries: int = 0


def _killer(target: Target, fault: str, kills: list[Kill], before: dict[str, object], tag: str) -> Callable[[], None]:
    def kill() -> None:
        if not kills:
            before.update(ingestion_times(target.postgres_dsn, tag))
        pid = target.service_pid(fault)
        if pid is None:
            raise ChaosError(f"{fault} is not running: nothing to kill")
        os.kill(pid, signal.SIGKILL)
        record = Kill(fault, pid, time.monotonic())
        kills.append(record)
        threading.Thread(target=_watch_return, args=(target, record), daemon=True).start()

    return kill


def _watch_return(target: Target, kill: Kill, timeout_s: float = 600.0) -> None:
    while time.monotonic() < kill.at + timeout_s:
        pid = target.service_pid(kill.fault)
        if pid is not None and pid != kill.pid:
            kill.back_s = time.monotonic() - kill.at
            return
        time.sleep(0.2)


def run_fault(target: Target, fault: str, events: int, rate: float, deadline_s: float = 180.0) -> FaultResult:
    """Send `events` at `rate`, kill -9 `fault` halfway, wait up to deadline_s after the kill for everything.

    The producer's own fault is measured on its own stream instead (run_producer_fault), as long.
    """
    if fault == "producer":
        return run_producer_fault(target, events / rate, deadline_s)
    run = Run(f"chaos-{fault}-{uuid.uuid4().hex[:6]}", events, rate, sessions=max(1, events // 20))
    kills: list[Kill] = []
    before: dict[str, object] = {}
    # The stream runs alone: a tick promises only its own producer's order, so after a Kafka outage
    # the stack producer's buffered ticks could reach a partition before the stream's buffered
    # clicks and make them late (seen in CI: 500 of 1,000). The stack runs one producer.
    target.run_producer(False)
    try:
        failed = send(
            run,
            target.kafka_bootstrap,
            target.topic,
            target.partitions,
            at={events // 2: _killer(target, fault, kills, before, run.tag)},
        )
        ticker = (target.kafka_bootstrap, target.topic, target.partitions)
        landing = wait_for_landing(target.postgres_dsn, run, kills[0].at, before, deadline_s, ticker)
    finally:
        target.run_producer(True)
    return FaultResult(fault, landing, kills, failed)


def run_producer_fault(target: Target, seconds: float, deadline_s: float = 180.0) -> FaultResult:
    """Kill -9 the stack's own producer mid-stream: its journal must make the restarted one resume its run.

    The known events are the producer's run itself (ids `<run>-<n>`): every number from 0 to the
    highest seen after the kill must be in clicks, every minute aggregate of the windows around the
    kill and every settled session of the run must be right key by key
    (chaos.verify.producer_run_mismatches). The matrix sends nothing itself meanwhile.
    """
    run_id = newest_producer_run_id(target.postgres_dsn)
    kills: list[Kill] = []
    time.sleep(seconds / 2)
    _killer(target, "producer", kills, {}, run_id)()
    minute = time.time_ns() // 1_000_000 // 60_000 * 60_000
    # The window of the kill and the one before it.
    windows = (_utc(minute - 60_000), _utc(minute + 60_000))
    time.sleep(seconds / 2)
    landing = wait_for_producer_run(target.postgres_dsn, run_id, windows, kills[0].at, deadline_s)
    return FaultResult(f"producer (run {run_id})", landing, kills)


def newest_producer_run_id(dsn: str) -> str:
    run_id = newest_producer_run(dsn)
    if run_id is None:
        raise ChaosError("no click of the producer is in the database: is it running?")
    return run_id


def wait_for_producer_run(
    dsn: str, run_id: str, windows: tuple[datetime, datetime], since: float, deadline_s: float
) -> Landing:
    """Poll until the producer's run is right (every number up to the highest seen now in clicks once,
    the aggregates of the windows [from, to) and the settled sessions right key by key), or deadline_s
    after `since` (time.monotonic())."""
    # Twice the session sink's flush interval, and a second for the write itself.
    settled_s = 2 * duration_seconds(SessionSinkSettings().session_flush_interval) + 1
    _, highest = run_count(dsn, run_id)
    landing = Landing(highest + 1)
    while time.monotonic() < since + deadline_s:
        landing.clicks, _ = run_count(dsn, run_id, upto=highest)
        mismatches, closed = producer_run_mismatches(dsn, run_id, *windows, settled_s)
        landing.mismatches = [str(mismatch) for mismatch in mismatches]
        aggregates = sum(m.table.startswith("clicks_per_minute") for m in mismatches)
        pages = sum(m.table == "session_stats" for m in mismatches)
        # The run's figures as the table shows them: the events, off by each key found wrong.
        landing.minute_aggregates, landing.session_pages = landing.sent + aggregates, landing.sent + pages
        if landing.clicks_landed_s is None and landing.clicks == landing.sent:
            landing.clicks_landed_s = time.monotonic() - since
        if landing.exactly_once and closed:
            landing.all_landed_s = time.monotonic() - since
            break
        time.sleep(2)
    return landing


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def soak(
    target: Target,
    seconds: float,
    rate: float,
    kill_every_s: float,
    faults: tuple[str, ...],
    seed: int,
    deadline_s: float = 300.0,
) -> FaultResult:
    """`seconds` at `rate`, a fault every kill_every_s, then wait up to deadline_s after the last one.

    The faults come in a random order (seed) without repeats until each has come once, so a soak of
    as many kills as faults kills every service once.
    """
    order = random.Random(seed).sample(faults, len(faults))
    events = int(seconds * rate)
    run = Run(f"chaos-soak-{uuid.uuid4().hex[:6]}", events, rate, sessions=max(1, events // 50))
    kills: list[Kill] = []
    before: dict[str, object] = {}
    at = {
        int(k * kill_every_s * rate): _killer(target, order[(k - 1) % len(order)], kills, before, run.tag)
        for k in range(1, int(seconds // kill_every_s) + 1)
        if k * kill_every_s < seconds
    }
    failed = send(run, target.kafka_bootstrap, target.topic, target.partitions, at=at)
    ticker = (target.kafka_bootstrap, target.topic, target.partitions)
    # Measured from the last fault; a soak without one is measured from its end.
    since = kills[-1].at if kills else time.monotonic()
    landing = wait_for_landing(target.postgres_dsn, run, since, before, deadline_s, ticker)
    return FaultResult("soak: " + ", ".join(k.fault for k in kills), landing, kills, failed)
