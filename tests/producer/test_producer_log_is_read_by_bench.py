"""The bench reads the producer's own log lines (sustained runs): the two formats must stay in step."""

from __future__ import annotations

import io
import logging

import pytest

from bench.sustained import read_producer_log
from producer.model import ClickstreamModel
from producer.runner import FELL_BEHIND, StatsLine, log
from producer.sessions import ClickSimulator, SimulationConfig
from producer.sinks import StdoutSink


def test_events_in_flight_and_the_pace_given_up_are_read_from_the_producer_log(
    small_model: ClickstreamModel, caplog: pytest.LogCaptureFixture
) -> None:
    simulator = ClickSimulator(small_model, [("user-0", 1.0)], SimulationConfig(rate=100), 1, 1_700_000_000_000)
    sink = StdoutSink(io.BytesIO())
    with caplog.at_level(logging.INFO, logger=log.name):
        StatsLine().maybe_log(0, sink, simulator, force=True)
        log.warning(FELL_BEHIND, 2.5)
        log.warning(FELL_BEHIND, 3.25)
        StatsLine().maybe_log(10, sink, simulator, force=True)
    in_flight, behind_s = read_producer_log(caplog.text)
    assert in_flight == [sink.in_flight, sink.in_flight]
    assert behind_s == pytest.approx(2.5 + 3.2)
