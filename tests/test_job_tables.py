"""Every table the job writes, checked against what the test computes itself from the events it sent.

The background producer is paused (through the supervisor) so that the test owns the event-time windows
it uses: minutes slightly in the future, which no background click falls into.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

import psycopg2
import pytest

from tests.conftest import RunningStack
from wikistream.events import ClickEvent, referrer_class
from wikistream.settings import stack_settings

DEADLINE_S = 120.0
MINUTE_MS = 60_000


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def wait_for(stack: RunningStack, statement: str, params: tuple, expected: set[tuple], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    got: set[tuple] = set()
    while time.monotonic() < deadline:
        got = set(stack.query(statement, params))
        if got == expected:
            return
        time.sleep(1)
    missing, extra = expected - got, got - expected
    raise AssertionError(f"{what}: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}")


@pytest.fixture()
def paused_producer(running_stack: RunningStack):
    # Through the supervisor: a producer killed by pid would be started again at once.
    paused = running_stack.cli("service", "stop", "producer")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    yield
    resumed = running_stack.cli("service", "start", "producer")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr


@pytest.fixture
def test_users(running_stack: RunningStack) -> Iterator[tuple[str, dict[str, str]]]:
    """(tag, {user id: country}): three users with countries of their own, deleted afterwards."""
    tag = f"agg{uuid.uuid4().hex[:8]}"
    users = {f"{tag}-user-{i}": f"Testland-{tag}-{i}" for i in range(3)}
    with closing(psycopg2.connect(running_stack.admin_dsn())) as conn, conn, conn.cursor() as cur:
        for user_id, country in users.items():
            cur.execute(
                "INSERT INTO users (user_id, username, first_name, last_name, gender, email, country, nat, age,"
                " registered_at, activity, source) VALUES (%s, %s, 'T', 'User', 'female', 't@example.org', %s,"
                " 'XX', 30, now(), 1.0, 'offline-synthetic')",
                (user_id, user_id, country),
            )
    yield tag, users
    # Other tests of the shared stack count the seeded users.
    with closing(psycopg2.connect(running_stack.admin_dsn())) as conn, conn, conn.cursor() as cur:
        cur.execute("DELETE FROM users WHERE user_id = ANY(%s)", (list(users),))


def test_known_events_produce_exactly_the_expected_rows_in_every_table(
    running_stack: RunningStack, paused_producer: None, test_users: tuple[str, dict[str, str]]
) -> None:
    # Users with countries of their own, so the per-country counts are the test's alone.
    tag, users = test_users

    # Windows ahead of the background traffic's watermark, yet the marker closing them at most
    # MAX_LEAD (5 min) ahead of the broker's clock, which judges "in the future".
    t0 = (int(time.time() * 1000) // MINUTE_MS + 1) * MINUTE_MS
    entries = ["other-search", "other-external", "other-empty"]
    events: list[ClickEvent] = []
    # And one user nobody seeded: its clicks land all the same, enriched as country 'unknown'. Its
    # page numbers run against time, as a replay after a failover may feed them: seqs is still sorted.
    unseeded = f"{tag}-unseeded"
    for s, user_id in enumerate([*users, unseeded]):
        prev = entries[s % len(entries)]
        for seq in range(1, 8):
            curr = f"E2E_{tag}_{(s + seq) % 5}"
            events.append(
                ClickEvent(
                    event_id=f"{tag}-{s}-{seq}",
                    user_id=user_id,
                    session_id=f"{tag}-session-{s}",
                    seq=8 - seq if user_id == unseeded else seq,
                    prev=prev,
                    curr=curr,
                    type="link" if seq > 1 else "external",
                    # Spread over three minutes: 25 s apart, sessions offset by 7 s.
                    event_time_ms=t0 + (seq - 1) * 25_000 + s * 7_000,
                )
            )
            prev = curr
    malformed = [b"not json", b'{"event_id": 1}', json.dumps({"event_id": f"{tag}-bad"}).encode(), b"[]"]

    # In event-time order, as a real source sends them: within a watermark delay of each other.
    running_stack.send_events(sorted(events, key=lambda event: event.event_time_ms))
    rejected_at = running_stack.send([(None, payload, t0) for payload in malformed])
    # Close every test window: a click past the last one on each partition moves the watermark.
    advance = t0 + 3 * MINUTE_MS + 30_000
    partitions = int(running_stack.env.get("KAFKA_TOPIC_PARTITIONS", stack_settings().kafka_topic_partitions))
    for partition in range(partitions):
        marker = ClickEvent(
            f"{tag}-advance-{partition}",
            f"{tag}-adv",
            f"{tag}-adv",
            1,
            "other-empty",
            f"E2E_{tag}_advance",
            "other",
            advance,
        )
        running_stack.send_events([marker], partition=partition)

    windows = {ms: utc(ms) for ms in (t0, t0 + MINUTE_MS, t0 + 2 * MINUTE_MS)}

    def window(event: ClickEvent) -> datetime:
        return utc(event.event_time_ms // MINUTE_MS * MINUTE_MS)

    per_article = Counter((window(e), e.curr) for e in events)
    wait_for(
        running_stack,
        "SELECT window_start, article, clicks FROM clicks_per_minute_article"
        " WHERE article LIKE %s AND article NOT LIKE '%%advance'",
        (f"E2E_{tag}_%",),
        {(w, a, n) for (w, a), n in per_article.items()},
        "clicks_per_minute_article",
    )
    per_country = Counter((window(e), users.get(e.user_id, "unknown")) for e in events)
    wait_for(
        running_stack,
        "SELECT window_start, country, clicks FROM clicks_per_minute_country"
        " WHERE country LIKE %s OR (country = 'unknown' AND window_start = ANY(%s))",
        (f"Testland-{tag}-%", list(windows.values())),
        {(w, c, n) for (w, c), n in per_country.items()},
        "clicks_per_minute_country",
    )
    per_referrer = Counter((window(e), referrer_class(e.prev, e.type)) for e in events)
    wait_for(
        running_stack,
        "SELECT window_start, referrer_class, clicks FROM clicks_per_minute_referrer WHERE window_start = ANY(%s)",
        (list(windows.values()),),
        {(w, r, n) for (w, r), n in per_referrer.items()},
        "clicks_per_minute_referrer",
    )
    sessions: dict[str, tuple[int, int, frozenset[int]]] = {}
    session_user = {e.session_id: e.user_id for e in events}
    for e in events:
        first, last, seqs = sessions.get(e.session_id, (e.event_time_ms, e.event_time_ms, frozenset()))
        sessions[e.session_id] = (min(first, e.event_time_ms), max(last, e.event_time_ms), seqs | {e.seq})
    wait_for(
        running_stack,
        "SELECT session_id, user_id, pages, first_event, last_event, duration_s, array_to_string(seqs, ',')"
        " FROM session_stats"
        " WHERE session_id LIKE %s",
        (f"{tag}-session-%",),
        {
            (
                sid,
                session_user[sid],
                len(seqs),
                utc(first),
                utc(last),
                float((last - first) // 1000),
                ",".join(map(str, sorted(seqs))),
            )
            for sid, (first, last, seqs) in sessions.items()
        },
        "session_stats",
    )
    wait_for(
        running_stack,
        "SELECT event_id, curr FROM clicks WHERE event_id LIKE %s AND event_id NOT LIKE '%%advance%%'",
        (f"{tag}-%",),
        {(e.event_id, e.curr) for e in events},
        "clicks",
    )
    wait_for(
        running_stack,
        "SELECT kafka_partition, kafka_offset, reason, raw_payload FROM rejected_events"
        " WHERE (kafka_partition, kafka_offset) IN %s",
        (tuple(rejected_at),),
        {
            (partition, offset, reason, payload)
            for (partition, offset), reason, payload in zip(
                rejected_at,
                [
                    "not a JSON object",
                    "mistyped field: event_id (expected string)",
                    "missing field: user_id",
                    "not a JSON object",
                ],
                malformed,
                strict=True,
            )
        },
        "rejected_events",
    )

    # The windows are closed now: a click for the first one is late. It is kept in clicks and
    # counted in late_events, and the closed window's count does not change.
    first = events[0]
    late = ClickEvent(
        f"{tag}-late", first.user_id, f"{tag}-late-session", 1, "other-search", first.curr, "external", t0 + 1_000
    )
    running_stack.send_events([late])
    wait_for(
        running_stack,
        "SELECT event_id FROM late_events WHERE event_id = %s",
        (late.event_id,),
        {(late.event_id,)},
        "late_events",
    )
    # Each table has its own sink and flushes on its own: the late click's clicks row may come second.
    wait_for(
        running_stack,
        "SELECT event_id FROM clicks WHERE event_id = %s",
        (late.event_id,),
        {(late.event_id,)},
        "clicks (late click)",
    )
    assert (
        running_stack.count(
            "SELECT clicks FROM clicks_per_minute_article WHERE window_start = %s AND article = %s",
            (utc(t0), first.curr),
        )
        == per_article[(utc(t0), first.curr)]
        > 0
    )
