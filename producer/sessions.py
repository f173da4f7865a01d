"""Many interleaved reading sessions on a simulated clock, emitted at a fixed number of clicks per second.

The clock advances in fixed steps of STEP_S seconds of event time. Each step emits exactly the clicks
its share of the rate allows (fractions carry over): first the clicks of open sessions that are due,
oldest first, then new sessions for what is left. So the rate is exact by construction, whatever the
walks do, and a session's clicks are spaced by its dwell times.

Time compression: an open session has exactly one pending click, so by Little's law about
rate x mean dwell / speedup sessions are open at once (~500,000 at 10,000 clicks/s). Above
max_open_sessions, dwell times are divided by a larger factor (`time_compression`) so memory stays
bounded; the producer logs it.

Everything is drawn from one seeded random.Random, so a seed fixes the whole stream (ids included),
as long as the same rate, speedup and origin are used. Event ids are `<run id>-<n>`, n counting the
run's events from 0: a restarted producer finds which of its events Kafka already holds by their
numbers (producer/journal.py), and snapshot()/restore() carry the simulation across the restart.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from producer.model import ClickstreamModel
from producer.walker import DwellTime, Walker
from wikistream.events import ClickEvent

# A click waits up to one step to be sent: 50-ms steps were half of the p95 latency at 2,000 events/s.
STEP_S = 0.01
# The version (4) and variant (RFC 4122) bits of a random UUID, as uuid.UUID(version=4) sets them.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


@dataclass(frozen=True)
class SimulationConfig:
    rate: float
    speedup: float = 1.0
    dwell: DwellTime = field(default_factory=DwellTime)
    max_open_sessions: int = 100_000

    @property
    def time_compression(self) -> float:
        """The factor dwell times are divided by: the speedup, or more if sessions would not fit."""
        expected_open = self.rate * self.dwell.mean_s / self.speedup
        return self.speedup * max(1.0, expected_open / self.max_open_sessions)


class _OpenSession:
    """A session and its pending click (prev -> article)."""

    __slots__ = ("article", "prev", "seq", "session_id", "user_id")

    def __init__(self, session_id: str, user_id: str, seq: int, prev: str, article: int) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.seq = seq
        self.prev = prev
        self.article = article


@dataclass
class SimulatorState:
    """A ClickSimulator's state in JSON values: the random generator, the open sessions, the clocks."""

    run_id: str
    origin_ms: int
    rng: list[Any]  # [version, internal state, gauss_next] of random.Random.getstate()
    pending: list[list[Any]]  # [time, tiebreak, session_id, user_id, seq, prev, article] per open session
    tiebreak: int
    clock: float
    tokens: float
    emitted: int


class ClickSimulator:
    def __init__(
        self,
        model: ClickstreamModel,
        users: Sequence[tuple[str, float]],
        config: SimulationConfig,
        seed: int,
        origin_ms: int,
    ) -> None:
        if not users:
            raise ValueError("at least one user is needed")
        self.model = model
        self.config = config
        self.origin_ms = origin_ms
        self.run_id = hashlib.sha256(f"{seed}:{origin_ms}".encode()).hexdigest()[:12]
        self.rng = random.Random(seed)
        self.walker = Walker(model, self.rng, config.dwell)
        self._user_ids = [user_id for user_id, _ in users]
        self._user_cum = list(accumulate(activity for _, activity in users))
        self._compression = config.time_compression
        self._pending: list[tuple[float, int, _OpenSession]] = []
        self._tiebreak = 0
        self._clock = 0.0
        self._tokens = 0.0
        # Events emitted so far: the number in the next event's id.
        self.emitted = 0

    def snapshot(self) -> SimulatorState:
        """Everything that decides the rest of the stream (not the model, the users or the config)."""
        version, internal, gauss_next = self.rng.getstate()
        return SimulatorState(
            run_id=self.run_id,
            origin_ms=self.origin_ms,
            rng=[version, list(internal), gauss_next],
            pending=[[at, tie, s.session_id, s.user_id, s.seq, s.prev, s.article] for at, tie, s in self._pending],
            tiebreak=self._tiebreak,
            clock=self._clock,
            tokens=self._tokens,
            emitted=self.emitted,
        )

    def restore(self, state: SimulatorState) -> None:
        """Continue exactly where snapshot() was taken (same model, users and config)."""
        version, internal, gauss_next = state.rng
        self.rng.setstate((version, tuple(internal), gauss_next))
        self.run_id, self.origin_ms = state.run_id, state.origin_ms
        self._pending = [
            (at, tie, _OpenSession(session_id, user_id, seq, prev, article))
            for at, tie, session_id, user_id, seq, prev, article in state.pending
        ]
        self._tiebreak, self._clock, self._tokens, self.emitted = (
            state.tiebreak,
            state.clock,
            state.tokens,
            state.emitted,
        )

    @property
    def clock_ms(self) -> int:
        """Event time the next step starts at."""
        return self.origin_ms + round(self._clock * 1000)

    @property
    def low_watermark_ms(self) -> int:
        """No click this simulator emits from now on has an earlier event time: a tick may say so.

        The clock's, or the earliest pending click's when a full quota left it behind the clock."""
        earliest = min(self._clock, self._pending[0][0]) if self._pending else self._clock
        return self.origin_ms + round(earliest * 1000)

    @property
    def open_sessions(self) -> int:
        return len(self._pending)

    def shift_origin(self, ms: int) -> None:
        """Move event times later (the producer fell behind the wall clock and gave up catching up)."""
        self.origin_ms += ms

    def step(self) -> list[ClickEvent]:
        """The clicks of the next STEP_S seconds of event time, in time order."""
        start = self._clock
        end = self._clock = start + STEP_S
        self._tokens += self.config.rate * STEP_S
        quota = int(self._tokens)
        self._tokens -= quota
        timed: list[tuple[float, ClickEvent]] = []
        pending = self._pending
        while pending and pending[0][0] < end and len(timed) < quota:
            at, _, session = heapq.heappop(pending)
            timed.append((at, self._click(session, at)))
        for _ in range(quota - len(timed)):
            at = start + self.rng.random() * STEP_S
            timed.append((at, self._start_session(at)))
        timed.sort(key=lambda pair: pair[0])
        return [event for _, event in timed]

    def _uuid(self) -> str:
        """str(uuid.UUID(int=getrandbits(128), version=4)) at a third of its cost (same string)."""
        bits = self.rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
        digits = f"{bits:032x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def _start_session(self, at: float) -> ClickEvent:
        user = self._user_ids[bisect.bisect_right(self._user_cum, self.rng.random() * self._user_cum[-1])]
        entry = self.walker.enter()
        session = _OpenSession(self._uuid(), user, 0, entry.referrer, entry.article)
        return self._click(session, at, entry.type)

    def _click(self, session: _OpenSession, at: float, link_type: str = "link") -> ClickEvent:
        """Emit the session's pending click, then schedule its next one unless the reader stops."""
        curr = self.model.title(session.article)
        session.seq += 1
        event = ClickEvent(
            event_id=f"{self.run_id}-{self.emitted}",
            user_id=session.user_id,
            session_id=session.session_id,
            seq=session.seq,
            prev=session.prev,
            curr=curr,
            type=link_type,  # type: ignore[arg-type]  # from LINK_TYPES
            event_time_ms=self.origin_ms + round(at * 1000),
        )
        following = self.walker.follow(session.article)
        if following is not None:
            session.prev, session.article = curr, following
            next_at = at + self.walker.dwell_s() / self._compression
            self._tiebreak += 1
            heapq.heappush(self._pending, (next_at, self._tiebreak, session))
        self.emitted += 1
        return event
