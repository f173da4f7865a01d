"""The send loop: simulator steps -> (pacer) -> sink, with a stats line and a clean stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from producer.journal import JournalWriter
from producer.pacing import Pacer
from producer.sessions import ClickSimulator
from producer.sinks import ReaderGone, Sink

log = logging.getLogger(__name__)
FELL_BEHIND = "fell %.1f s behind the wall clock: the rate is not sustainable here"
# Seconds between two ticks (wikistream/events.py TICK_HEADER) of a paced run: how late a minute
# window may close for a partition that gets no click.
TICK_INTERVAL_S = 1.0
WAITING = "Kafka has not acknowledged %d events for %.0f s: waiting before sending more (backpressure)"


class DeliveryFailed(Exception):
    """Kafka refused some events for good (a journaled run sends them again: producer/cli.py)."""


@dataclass
class StatsLine:
    """Logs sent/s, delivery errors and events in flight every interval_s seconds."""

    interval_s: float = 5.0

    def __post_init__(self) -> None:
        self._started = self._last = time.monotonic()
        self._last_sent = 0

    def maybe_log(self, sent: int, sink: Sink, simulator: ClickSimulator, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return
        rate = (sent - self._last_sent) / max(now - self._last, 1e-9)
        log.info(
            "sent %d (%.1f/s), errors %d, in flight %d, open sessions %d",
            sent,
            rate,
            sink.errors,
            sink.in_flight,
            simulator.open_sessions,
        )
        self._last, self._last_sent = now, sent

    def overall_rate(self, sent: int) -> float:
        return sent / max(time.monotonic() - self._started, 1e-9)


def run_stream(
    simulator: ClickSimulator,
    sink: Sink,
    total: int | None,
    pacer: Callable[[], Pacer] | None,
    stop: threading.Event,
    stats: StatsLine,
    journal: JournalWriter | None = None,
    already_delivered: frozenset[str] = frozenset(),
    max_in_flight: int = 20_000,
) -> int:
    """Send until the run holds total events (exactly) or until stop is set; returns the events sent now.

    A resumed run (producer/journal.py) first regenerates, unpaced, the events from its checkpoint
    on, skipping those already_delivered; once past them it moves its event times to now, then holds
    to the wall clock (pacer) like a new run, and ticks every TICK_INTERVAL_S. Not before: a tick
    stamped after events the resumed run has still to send again would make them late.

    At most max_in_flight events wait for Kafka's acknowledgement: past that the run waits (Kafka
    down or slow), so memory stays bounded; the pacer then gives up the time lost. With a journal,
    a delivery that failed for good raises DeliveryFailed, so the run can send it again from the
    journal (without one, failures are counted in sink.errors).
    """
    sent = 0
    waiting = set(already_delivered)
    paced: Pacer | None = None
    last_tick = 0.0
    while not stop.is_set() and (total is None or simulator.emitted < total):
        _wait_for_room(sink, max_in_flight, stop, fail_fast=journal is not None)
        if journal is not None and sink.errors:
            raise DeliveryFailed(f"{sink.errors} events were not delivered")
        if journal is not None:
            journal.before_step(simulator)
        if pacer is not None and paced is None and not waiting:
            behind_ms = time.time_ns() // 1_000_000 - simulator.clock_ms
            if behind_ms > 0:
                simulator.shift_origin(behind_ms)
            paced = pacer()
        if paced is not None:
            dropped_s = paced.wait_for_next_step()
            if dropped_s:
                log.warning(FELL_BEHIND, dropped_s)
                simulator.shift_origin(round(dropped_s * 1000))
        first = simulator.emitted
        events = simulator.step()
        if total is not None:
            events = events[: total - first]
        if waiting:
            fresh = [event for event in events if event.event_id not in waiting]
            waiting.difference_update(event.event_id for event in events)
            events = fresh
        try:
            sink.send(events, journal.step(len(events)) if journal is not None else None)
        except ReaderGone:
            log.info("stdout was closed by its reader: stopping")
            break
        sent += len(events)
        if paced is not None and time.monotonic() - last_tick >= TICK_INTERVAL_S:
            sink.tick(simulator.low_watermark_ms)
            last_tick = time.monotonic()
        stats.maybe_log(sent, sink, simulator)
    return sent


def _wait_for_room(sink: Sink, limit: int, stop: threading.Event, fail_fast: bool) -> None:
    """Until fewer than limit events are in flight (or stop, or a failure to act on), saying so every 30 s."""
    started = next_log = time.monotonic()
    while sink.in_flight >= limit and not stop.is_set() and not (fail_fast and sink.errors):
        if time.monotonic() >= next_log:
            log.warning(WAITING, sink.in_flight, time.monotonic() - started)
            next_log += 30.0
        sink.wait(0.1)
