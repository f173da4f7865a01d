"""The send loop: simulator steps -> (pacer) -> sink, with a stats line and a clean stop."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from producer.pacing import Pacer
from producer.sessions import ClickSimulator
from producer.sinks import ReaderGone, Sink

log = logging.getLogger(__name__)


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
    pacer: Pacer | None,
    stop: threading.Event,
    stats: StatsLine,
) -> int:
    """Send until total events (exactly) or until stop is set; returns the events handed to the sink."""
    sent = 0
    while not stop.is_set() and (total is None or sent < total):
        if pacer is not None:
            dropped_s = pacer.wait_for_next_step()
            if dropped_s:
                log.warning("fell %.1f s behind the wall clock: the rate is not sustainable here", dropped_s)
                simulator.shift_origin(round(dropped_s * 1000))
        events = simulator.step()
        if total is not None:
            events = events[: total - sent]
        try:
            sink.send(events)
        except ReaderGone:
            log.info("stdout was closed by its reader: stopping")
            break
        sent += len(events)
        stats.maybe_log(sent, sink, simulator)
    return sent
