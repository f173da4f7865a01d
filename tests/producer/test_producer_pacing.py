"""The pacer against a fake clock: one sleep per step, catching up after short stalls, giving up long lags."""

from __future__ import annotations

import pytest

from producer.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_steps_are_released_on_schedule_with_one_sleep_each() -> None:
    clock = FakeClock()
    pacer = Pacer(step_s=0.05, clock=clock, sleep=clock.sleep)
    for _ in range(1200):  # one minute of steps
        clock.now += 0.001  # the work of sending a step
        assert pacer.wait_for_next_step() == 0.0
    assert clock.now == pytest.approx(100.0 + 60.0)
    assert len(clock.sleeps) == 1200
    assert all(sleep == pytest.approx(0.049) for sleep in clock.sleeps[1:])


def test_a_short_stall_is_caught_up_without_sleeping() -> None:
    clock = FakeClock()
    pacer = Pacer(step_s=0.05, max_lag_s=2.0, clock=clock, sleep=clock.sleep)
    clock.now += 1.0  # a one-second stall: 20 steps are due at once
    for _ in range(20):
        assert pacer.wait_for_next_step() == 0.0
    assert clock.sleeps == []
    pacer.wait_for_next_step()
    assert clock.sleeps == [pytest.approx(0.05)]


def test_a_long_lag_is_given_up_and_reported() -> None:
    clock = FakeClock()
    pacer = Pacer(step_s=0.05, max_lag_s=2.0, clock=clock, sleep=clock.sleep)
    clock.now += 10.0
    assert pacer.wait_for_next_step() == pytest.approx(10.0 - 0.05)
    # From there on the schedule restarts from now: the next step is one step away again.
    pacer.wait_for_next_step()
    assert clock.sleeps == [pytest.approx(0.05)]
