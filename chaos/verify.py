"""What a run left in PostgreSQL, judged key by key: every event once, every aggregate right.

Sums cannot see a duplicate: a window counted twice and another counted not at all cancel out, and a
keyed row (clicks) is rewritten, not added, by a replay. So the oracle compares per key:

- the run's own events: each event id in clicks exactly once, none in late_events (they are sent on
  time) and none in rejected_events (they are valid);
- every minute aggregate of the run's windows (article, referrer and country per minute) with what
  the clicks table implies for that key, late clicks left out (the job counts each click in exactly
  one of its windows and late_events): a window counted twice, or short of one click, is a mismatch;
- every session of the run: pages, first and last click and the page numbers (seqs) against the
  clicks of that session.

The aggregates are checked for every click of the windows, the background producer's too: the
clicks table is the reference because its rows are keyed, so a replay cannot inflate it. A rewritten
click gets a new ingested_at: counted too ("rewritten", harmless).
"""

from __future__ import annotations

import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2
from psycopg2 import sql

from chaos.stream import Run, tick_until
from wikistream.postgres import single_row

# Each minute aggregate, and how its key is computed from a click (country: the user's, else 'unknown').
AGGREGATES = {
    "clicks_per_minute_article": ("article", "c.curr"),
    "clicks_per_minute_referrer": ("referrer_class", "c.referrer_class"),
    "clicks_per_minute_country": ("country", "coalesce(u.country, 'unknown')"),
}


@dataclass(frozen=True)
class Mismatch:
    table: str
    key: str
    expected: object
    found: object

    def __str__(self) -> str:
        return f"{self.table} {self.key}: expected {self.expected}, found {self.found}"


def aggregate_mismatches(cur: object, window_from: datetime, window_to: datetime) -> list[Mismatch]:
    """Every minute aggregate of the windows in [window_from, window_to) that differs from the clicks."""
    found: list[Mismatch] = []
    for table, (column, expression) in AGGREGATES.items():
        cur.execute(  # type: ignore[attr-defined]
            sql.SQL(
                "WITH counted AS ("
                "  SELECT date_trunc('minute', c.event_time) AS w, {expression} AS k"
                "  FROM clicks c LEFT JOIN users u ON u.user_id = c.user_id"
                "  WHERE c.event_time >= %(f)s AND c.event_time < %(t)s AND NOT EXISTS ("
                "    SELECT FROM late_events l WHERE l.event_id = c.event_id AND l.event_time = c.event_time)),"
                " expected AS (SELECT w, k, count(*) AS n FROM counted GROUP BY w, k),"
                " got AS (SELECT window_start AS w, {column} AS k, clicks AS n FROM {table}"
                "  WHERE window_start >= %(f)s AND window_start < %(t)s)"
                " SELECT w, k, expected.n, got.n FROM expected FULL JOIN got USING (w, k)"
                " WHERE expected.n IS DISTINCT FROM got.n ORDER BY w, k"
            ).format(expression=sql.SQL(expression), column=sql.Identifier(column), table=sql.Identifier(table)),
            {"f": window_from, "t": window_to},
        )
        found.extend(
            Mismatch(table, f"{w:%H:%M} {k!r}", n_expected, n_found)
            for w, k, n_expected, n_found in cur.fetchall()  # type: ignore[attr-defined]
        )
    return found


def session_mismatches(cur: object, run_like: str, settled_before: datetime | None = None) -> list[Mismatch]:
    """Every session with a click of the run (event ids LIKE run_like) whose row differs from its clicks;
    only sessions whose newest click is before settled_before, when given (rows are written every few s)."""
    cur.execute(  # type: ignore[attr-defined]
        "WITH seen AS ("
        "  SELECT session_id, array_agg(DISTINCT seq ORDER BY seq) AS seqs, min(event_time) AS f,"
        "         max(event_time) AS l FROM clicks"
        "  WHERE session_id IN (SELECT session_id FROM clicks WHERE event_id LIKE %(run)s) GROUP BY session_id)"
        " SELECT session_id, cardinality(seen.seqs), s.pages, seen.f, s.first_event, seen.l, s.last_event,"
        "        seen.seqs, s.seqs"
        " FROM seen LEFT JOIN session_stats s USING (session_id)"
        " WHERE (%(settled)s::timestamptz IS NULL OR seen.l < %(settled)s)"
        "   AND (s.pages IS DISTINCT FROM cardinality(seen.seqs) OR s.first_event IS DISTINCT FROM seen.f"
        "        OR s.last_event IS DISTINCT FROM seen.l OR s.seqs IS DISTINCT FROM seen.seqs)"
        " ORDER BY session_id",
        {"run": run_like, "settled": settled_before},
    )
    return [
        Mismatch(
            "session_stats",
            session,
            f"{pages} pages {first}..{last} seqs {seqs}",
            f"{found} pages {found_f}..{found_l} seqs {found_seqs}",
        )
        for session, pages, found, first, found_f, last, found_l, seqs, found_seqs in cur.fetchall()  # type: ignore[attr-defined]
    ]


def event_mismatches(cur: object, event_like: str, payload_tag: str, expected: int) -> list[Mismatch]:
    """The run's events: each id in clicks once, `expected` ids in all, none late, none rejected."""
    cur.execute(  # type: ignore[attr-defined]
        "SELECT (SELECT count(DISTINCT event_id) FROM clicks WHERE event_id LIKE %(e)s),"
        " (SELECT count(*) - count(DISTINCT event_id) FROM clicks WHERE event_id LIKE %(e)s),"
        " (SELECT count(*) FROM late_events WHERE event_id LIKE %(e)s),"
        " (SELECT count(*) FROM rejected_events WHERE position(%(tag)s::bytea IN raw_payload) > 0)",
        {"e": event_like, "tag": payload_tag.encode()},
    )
    distinct, repeated, late, rejected = single_row(cur)  # type: ignore[arg-type]
    checks = [("clicks", "distinct events", expected, distinct), ("clicks", "events in two rows", 0, repeated)]
    checks += [("late_events", "the run's events", 0, late), ("rejected_events", "the run's events", 0, rejected)]
    return [Mismatch(*check) for check in checks if check[2] != check[3]]


@dataclass
class Landing:
    sent: int
    clicks: int = 0
    minute_aggregates: int = 0
    session_pages: int = 0
    # Clicks written before the fault whose row was written again (a replay from the last checkpoint).
    rewritten: int = 0
    # Seconds from the fault until every click landed, and until every table was complete.
    clicks_landed_s: float | None = None
    all_landed_s: float | None = None
    # What the per-key oracle found wrong at the end (empty: every key right).
    mismatches: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return max(0, self.sent - min(self.clicks, self.minute_aggregates, self.session_pages))

    @property
    def duplicated(self) -> int:
        return (
            max(0, self.clicks - self.sent)
            + max(0, self.minute_aggregates - self.sent)
            + max(0, self.session_pages - self.sent)
        )

    @property
    def exactly_once(self) -> bool:
        return self.clicks == self.minute_aggregates == self.session_pages == self.sent and not self.mismatches


def counts(dsn: str, tag: str) -> tuple[int, int, int]:
    """(clicks, sum of the minute aggregates, sum of session pages) of a run."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM clicks WHERE event_id LIKE %(e)s),"
            " (SELECT coalesce(sum(clicks), 0) FROM clicks_per_minute_article WHERE article LIKE %(a)s),"
            " (SELECT coalesce(sum(pages), 0) FROM session_stats WHERE session_id LIKE %(s)s)",
            {"e": f"{tag}-E%", "a": f"{tag}-A%", "s": f"{tag}-S%"},
        )
        clicks, aggregates, pages = single_row(cur)
    return int(clicks), int(aggregates), int(pages)


def ingestion_times(dsn: str, tag: str) -> dict[str, object]:
    """event_id -> ingested_at of the run's clicks so far (taken just before a fault)."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT event_id, ingested_at FROM clicks WHERE event_id LIKE %s", (f"{tag}-E%",))
        return dict(cur.fetchall())


def rewritten_since(dsn: str, before: dict[str, object]) -> int:
    if not before:
        return 0
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT event_id, ingested_at FROM clicks WHERE event_id = ANY(%s)", (list(before),))
        return sum(1 for event_id, at in cur.fetchall() if at != before[event_id])


def per_key(
    dsn: str, window_from: datetime, window_to: datetime, run_like: str, settled_before: datetime | None = None
) -> list[Mismatch]:
    """The aggregates of the windows in [window_from, window_to) and the sessions of the run, key by key."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        # Minutes are cut in UTC, as the job cuts its windows.
        cur.execute("SET TIME ZONE 'UTC'")
        return aggregate_mismatches(cur, window_from, window_to) + session_mismatches(cur, run_like, settled_before)


def _run_minutes(dsn: str, event_like: str) -> tuple[datetime, datetime]:
    """[first minute, minute after the last) of the run's clicks."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT date_trunc('minute', min(event_time)), date_trunc('minute', max(event_time)) + interval '1 minute'"
            " FROM clicks WHERE event_id LIKE %s",
            (event_like,),
        )
        first, end = single_row(cur)
    return first, end


def judge(dsn: str, run: Run) -> list[Mismatch]:
    """Everything the oracle finds wrong with a run whose clicks all landed."""
    window_from, window_to = _run_minutes(dsn, f"{run.tag}-E%")
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        events = event_mismatches(cur, f"{run.tag}-E%", run.tag, run.events)
    return events + per_key(dsn, window_from, window_to, f"{run.tag}-E%")


def wait_for_landing(
    dsn: str, run: Run, fault_at: float, before: dict[str, object], deadline_s: float, ticker: tuple[str, str, int]
) -> Landing:
    """Poll until every event of the run is in every table and every key is right, or deadline_s after the fault.

    Once every click is in, ticks move the watermark (ticker: bootstrap, topic, partitions), so the
    run's last minute window closes. Not before: a tick sent while the run's own events still wait in
    a producer's buffer (Kafka down) could reach a partition ahead of them and make them late.
    """
    landing = Landing(run.events)
    done = threading.Event()
    thread = threading.Thread(target=tick_until, args=(done.is_set, *ticker), daemon=True)
    mismatches: list[Mismatch] = []
    try:
        while time.monotonic() < fault_at + deadline_s:
            try:
                landing.clicks, landing.minute_aggregates, landing.session_pages = counts(dsn, run.tag)
                complete = landing.clicks == landing.minute_aggregates == landing.session_pages == run.events
                mismatches = judge(dsn, run) if complete else []
            except psycopg2.OperationalError:
                time.sleep(1)
                continue
            now = time.monotonic()
            if landing.clicks_landed_s is None and landing.clicks >= run.events:
                landing.clicks_landed_s = now - fault_at
                thread.start()
            if (complete and not mismatches) or landing.duplicated:
                break
            time.sleep(1)
    finally:
        done.set()
        if thread.is_alive():
            thread.join(timeout=30)
    landing.mismatches = [str(mismatch) for mismatch in mismatches]
    if landing.exactly_once:
        landing.all_landed_s = time.monotonic() - fault_at
    landing.rewritten = rewritten_since(dsn, before)
    return landing


def newest_producer_run(dsn: str) -> str | None:
    """The run id of the newest click the producer sent (its ids are `<12 hex digits>-<n>`)."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT event_id FROM clicks WHERE event_id ~ '^[0-9a-f]{12}-[0-9]+$' ORDER BY event_time DESC LIMIT 1"
        )
        row = cur.fetchone()
    return row[0].rsplit("-", 1)[0] if row else None


def run_count(dsn: str, run_id: str, upto: int | None = None) -> tuple[int, int]:
    """(the run's clicks numbered up to `upto` (all when None), the highest number among all its clicks)."""
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE %(upto)s::bigint IS NULL OR n <= %(upto)s), coalesce(max(n), -1)"
            " FROM (SELECT split_part(event_id, '-', 2)::bigint AS n FROM clicks WHERE event_id LIKE %(run)s) numbered",
            {"upto": upto, "run": f"{run_id}-%"},
        )
        count, highest = single_row(cur)
    return int(count), int(highest)


def producer_run_mismatches(
    dsn: str, run_id: str, window_from: datetime, window_to: datetime, settled_s: float
) -> tuple[list[Mismatch], bool]:
    """(what the oracle finds wrong with the producer's run around a fault, whether the windows are closed).

    The aggregates of the windows in [window_from, window_to), key by key, and the run's sessions
    settled: the producer is still sending, and session_stats is written only every so often, so a
    session is judged once its newest click is settled_s older than the run's newest. The windows
    are closed once the newest click is ten seconds beyond them.
    """
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT max(event_time) - make_interval(secs => %s), max(event_time) >= %s + interval '10 seconds'"
            " FROM clicks WHERE event_id LIKE %s",
            (settled_s, window_to, f"{run_id}-%"),
        )
        settled_before, closed = single_row(cur)
    return per_key(dsn, window_from, window_to, f"{run_id}-%", settled_before), bool(closed)
