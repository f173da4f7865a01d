"""The fault oracle (chaos/verify.py) on a real PostgreSQL: right rows pass, one planted error fails.

The rows a correct job would write for a small run are inserted by hand; then one thing is broken
at a time: a window counted twice, two windows off in opposite directions (their sum unchanged), a
late click also counted, a session's pages, a click stored twice. Each must be found, by key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from chaos.verify import aggregate_mismatches, event_mismatches, session_mismatches
from wikistream.events import referrer_class

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
TAG = "oracle"
# (event number, session, seq, prev, curr, seconds after T0): two minutes, two sessions.
EVENTS = [
    (0, 0, 1, "other-search", f"{TAG}-A0", 5),
    (1, 1, 1, "other-external", f"{TAG}-A1", 20),
    (2, 0, 2, f"{TAG}-A0", f"{TAG}-A1", 50),
    (3, 1, 2, f"{TAG}-A1", f"{TAG}-A0", 70),
    (4, 0, 3, f"{TAG}-A1", f"{TAG}-A2", 95),
]


def _minute(seconds: int) -> datetime:
    return T0 + timedelta(minutes=seconds // 60)


@pytest.fixture()
def cur(postgres_dsn: str) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on a database holding exactly what a correct job writes for EVENTS."""
    with closing(psycopg2.connect(postgres_dsn)) as conn, conn.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
        for n, session, seq, prev, curr, at in EVENTS:
            link = "link" if prev.startswith(TAG) else "external"
            cursor.execute(
                "INSERT INTO clicks VALUES (%s, 'nobody', %s, %s, %s, %s, %s, %s, %s, 0, %s, now())",
                (
                    f"{TAG}-E{n}",
                    f"{TAG}-S{session}",
                    seq,
                    prev,
                    curr,
                    link,
                    referrer_class(prev, link),
                    T0 + timedelta(seconds=at),
                    n,
                ),
            )
        for table, key in (
            ("clicks_per_minute_article", lambda e: e[4]),
            ("clicks_per_minute_referrer", lambda e: referrer_class(e[3], "link" if e[3].startswith(TAG) else "x")),
            ("clicks_per_minute_country", lambda _e: "unknown"),
        ):
            for (window, value), count in Counter((_minute(e[5]), key(e)) for e in EVENTS).items():
                cursor.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", (window, value, count))
        for session in (0, 1):
            mine = [e for e in EVENTS if e[1] == session]
            first, last = T0 + timedelta(seconds=mine[0][5]), T0 + timedelta(seconds=mine[-1][5])
            cursor.execute(
                "INSERT INTO session_stats VALUES (%s, 'nobody', %s, %s, %s, %s, %s)",
                (f"{TAG}-S{session}", len(mine), first, last, (last - first).total_seconds(), [e[2] for e in mine]),
            )
        conn.commit()
        yield cursor


def found(cur: psycopg2.extensions.cursor) -> list[str]:
    window = (T0, T0 + timedelta(minutes=2))
    return [
        str(m)
        for m in aggregate_mismatches(cur, *window)
        + session_mismatches(cur, f"{TAG}-E%")
        + event_mismatches(cur, f"{TAG}-E%", TAG, len(EVENTS))
    ]


def test_the_rows_of_a_correct_job_pass(cur: psycopg2.extensions.cursor) -> None:
    assert found(cur) == []


PLANTED: dict[str, tuple[str, Callable[[psycopg2.extensions.cursor], None]]] = {
    "a window counted twice": (
        "clicks_per_minute_article",
        lambda c: c.execute(
            "UPDATE clicks_per_minute_article SET clicks = clicks + 1 WHERE article = %s", (f"{TAG}-A2",)
        ),
    ),
    "two windows off in opposite directions": (
        "clicks_per_minute_country",
        lambda c: c.execute(
            "UPDATE clicks_per_minute_country SET clicks = clicks + CASE WHEN window_start = %s THEN 1 ELSE -1 END",
            (T0,),
        ),
    ),
    "a late click also counted": (
        "clicks_per_minute_referrer",
        lambda c: c.execute(
            "INSERT INTO late_events SELECT event_id, event_time, event_time, now() FROM clicks WHERE event_id = %s",
            (f"{TAG}-E4",),
        ),
    ),
    "a session's pages": (
        "session_stats",
        lambda c: c.execute("UPDATE session_stats SET pages = pages + 1 WHERE session_id = %s", (f"{TAG}-S1",)),
    ),
    "a click stored twice": (
        "clicks",
        lambda c: c.execute(
            "INSERT INTO clicks SELECT event_id, user_id, session_id, seq, prev, curr, link_type, referrer_class,"
            " event_time + interval '1 ms', kafka_partition, kafka_offset, ingested_at FROM clicks WHERE event_id = %s",
            (f"{TAG}-E0",),
        ),
    ),
}


@pytest.mark.parametrize("planted", list(PLANTED))
def test_one_planted_error_is_found_by_its_key(cur: psycopg2.extensions.cursor, planted: str) -> None:
    table, plant = PLANTED[planted]
    plant(cur)
    problems = found(cur)
    assert problems, f"{planted} went unseen"
    assert any(problem.split(" ", 1)[0] == table for problem in problems), problems
