"""Holding the simulated clock to the wall clock.

The simulator emits fixed steps of event time; the pacer releases step k at t0 + k x step on
the boot clock (immune to wall-clock jumps, and counting the time a laptop was suspended, which
time.monotonic does not on Linux), sleeping once per step rather than once per message.
A late step is released at once, so short stalls are caught up and the rate holds on average. If the
producer falls further behind than max_lag_s (the machine cannot sustain the rate), the pacer stops
catching up and reports the lag it dropped, so event times can be moved forward to stay near now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def boot_clock() -> float:
    """Seconds since boot, suspends included (CLOCK_BOOTTIME); time.monotonic where there is none."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


@dataclass
class Pacer:
    step_s: float
    max_lag_s: float = 2.0
    clock: Callable[[], float] = boot_clock
    sleep: Callable[[float], None] = time.sleep
    _t0: float = field(init=False)
    _released: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._t0 = self.clock()

    def wait_for_next_step(self) -> float:
        """Block until the next step is due; returns the seconds of lag given up (0.0 normally)."""
        self._released += 1
        due = self._t0 + self._released * self.step_s
        lag = self.clock() - due
        if lag < 0:
            self.sleep(-lag)
            return 0.0
        if lag > self.max_lag_s:
            self._t0 += lag
            return lag
        return 0.0
