"""Interleaved sessions: chaining, numbering, boundaries, exact rates, users by activity, reproducibility."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from producer_stats_helpers import assert_follows

from producer.model import ClickstreamModel
from producer.sessions import STEP_S, ClickSimulator, SimulationConfig
from producer.walker import DwellTime
from tests.fuzz.oracle import judge
from wikistream.events import EVENT_FIELDS, REFERRER_CLASSES, ClickEvent

ORIGIN_MS = 1_700_000_000_000
USERS = [(f"user-{i}", float(2**i)) for i in range(6)]


def _simulate(model: ClickstreamModel, seed: int, steps: int, config: SimulationConfig) -> list[ClickEvent]:
    simulator = ClickSimulator(model, USERS, config, seed, ORIGIN_MS)
    return [event for _ in range(steps) for event in simulator.step()]


def _link_weights(model: ClickstreamModel, article: int) -> dict[str, int]:
    lo, hi = int(model.link_indptr[article]), int(model.link_indptr[article + 1])
    weights = np.diff(model.link_cum[lo:hi], prepend=model.link_cum[lo - 1] if lo else 0)
    return {model.title(int(dst)): int(n) for dst, n in zip(model.link_dst[lo:hi], weights, strict=True)}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), steps=st.integers(min_value=1, max_value=400))
def test_sessions_are_consistent_walks(small_model: ClickstreamModel, seed: int, steps: int) -> None:
    # Dwell times compressed 200x so that many sessions start, continue and end within a few hundred steps.
    events = _simulate(small_model, seed, steps, SimulationConfig(rate=300, speedup=200))
    titles = {small_model.title(i): i for i in range(small_model.articles)}
    sessions: dict[str, list[ClickEvent]] = defaultdict(list)
    for event in events:
        sessions[event.session_id].append(event)
    for clicks in sessions.values():
        first = clicks[0]
        assert first.seq == 1 and first.prev in REFERRER_CLASSES
        assert [click.seq for click in clicks] == list(range(1, len(clicks) + 1))
        assert {click.user_id for click in clicks} == {first.user_id}
        for before, after in pairwise(clicks):
            assert after.prev == before.curr
            assert after.type == "link"
            assert after.curr in _link_weights(small_model, titles[before.curr])
            assert after.event_time_ms >= before.event_time_ms
    assert len({event.event_id for event in events}) == len(events)
    assert all(event.event_time_ms >= ORIGIN_MS for event in events)


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(min_value=0.5, max_value=2000), steps=st.integers(min_value=1, max_value=100))
def test_each_step_emits_exactly_its_share_of_the_rate(small_model: ClickstreamModel, rate: float, steps: int) -> None:
    simulator = ClickSimulator(small_model, USERS, SimulationConfig(rate=rate), 1, ORIGIN_MS)
    emitted = 0
    for done in range(1, steps + 1):
        batch = simulator.step()
        emitted += len(batch)
        # Tokens carry over between steps: the running total never drifts by a whole click.
        assert abs(emitted - rate * STEP_S * done) < 1 + 1e-6
        assert [event.event_time_ms for event in batch] == sorted(event.event_time_ms for event in batch)


def test_a_seed_reproduces_the_stream_exactly(small_model: ClickstreamModel) -> None:
    config = SimulationConfig(rate=500, speedup=20)
    first = _simulate(small_model, 5, 100, config)
    assert first == _simulate(small_model, 5, 100, config)
    assert first != _simulate(small_model, 6, 100, config)


def test_users_start_sessions_in_proportion_to_activity(small_model: ClickstreamModel) -> None:
    events = _simulate(small_model, 11, 400, SimulationConfig(rate=1000, speedup=50))
    starts = Counter(event.user_id for event in events if event.seq == 1)
    assert_follows(starts, dict(USERS))


def test_the_first_click_on_follows_the_link_weights(small_model: ClickstreamModel) -> None:
    events = _simulate(small_model, 12, 800, SimulationConfig(rate=2000, speedup=1000))
    entered = Counter(event.curr for event in events if event.seq == 1)
    titles = {small_model.title(i): i for i in range(small_model.articles)}
    busiest = max((title for title in entered if _link_weights(small_model, titles[title])), key=entered.__getitem__)
    by_session = {event.session_id: event for event in events if event.seq == 1 and event.curr == busiest}
    second = Counter(event.curr for event in events if event.seq == 2 and event.session_id in by_session)
    assert sum(second.values()) > 500
    assert_follows(second, _link_weights(small_model, titles[busiest]))


def test_dwell_times_are_compressed_only_when_sessions_would_not_fit() -> None:
    dwell = DwellTime(median_s=30.0, sigma=1.0)
    assert SimulationConfig(rate=50, dwell=dwell).time_compression == 1.0
    assert SimulationConfig(rate=50, speedup=3, dwell=dwell).time_compression == 3.0
    at_10k = SimulationConfig(rate=10_000, dwell=dwell, max_open_sessions=100_000).time_compression
    assert at_10k == pytest.approx(10_000 * dwell.mean_s / 100_000)


def test_open_sessions_stay_bounded(small_model: ClickstreamModel) -> None:
    config = SimulationConfig(rate=400, max_open_sessions=100)
    simulator = ClickSimulator(small_model, USERS, config, 3, ORIGIN_MS)
    peak = 0
    for _ in range(1200):
        simulator.step()
        peak = max(peak, simulator.open_sessions)
    assert 0 < peak <= 130  # Little's law: at most rate x compressed mean dwell = 100, plus noise


def test_events_fit_the_contract(small_model: ClickstreamModel) -> None:
    for event in _simulate(small_model, 4, 50, SimulationConfig(rate=200, speedup=100)):
        verdict = judge(event.to_json(), record_time_ms=event.event_time_ms)
        assert verdict.reason is None, (event, verdict.reason)
        assert set(json.loads(event.to_json())) == {spec.name for spec in EVENT_FIELDS}


def test_shifting_the_origin_moves_later_event_times(small_model: ClickstreamModel) -> None:
    simulator = ClickSimulator(small_model, USERS, SimulationConfig(rate=100), 2, ORIGIN_MS)
    before = max(event.event_time_ms for _ in range(10) for event in simulator.step())
    simulator.shift_origin(60_000)
    after = min(event.event_time_ms for event in simulator.step())
    assert after >= before + 60_000


def test_session_ids_are_canonical_random_uuids(small_model: ClickstreamModel) -> None:
    session_ids = {event.session_id for event in _simulate(small_model, 6, 40, SimulationConfig(rate=500))}
    assert len(session_ids) > 100
    for session_id in session_ids:
        parsed = uuid.UUID(session_id)
        assert (str(parsed), parsed.version, parsed.variant) == (session_id, 4, uuid.RFC_4122)
