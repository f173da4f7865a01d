"""What a run left in PostgreSQL: every event once in clicks, in the minute aggregates and in the sessions.

A replay after a crash rewrites rows it already wrote: clicks are keyed, so their count cannot show
it, but the sums of the minute aggregates and of the session pages would grow past the events sent,
and a rewritten click gets a new ingested_at. All three are counted.
"""

from __future__ import annotations

import threading
import time
from contextlib import closing
from dataclasses import dataclass

import psycopg2

from chaos.stream import Run, tick_until
from wikistream.postgres import single_row


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
        return self.clicks == self.minute_aggregates == self.session_pages == self.sent


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


def wait_for_landing(
    dsn: str, run: Run, fault_at: float, before: dict[str, object], deadline_s: float, ticker: tuple[str, str, int]
) -> Landing:
    """Poll until every event of the run is in every table, or deadline_s after the fault.

    Once every click is in, ticks move the watermark (ticker: bootstrap, topic, partitions), so the
    run's last minute window closes. Not before: a tick sent while the run's own events still wait in
    a producer's buffer (Kafka down) could reach a partition ahead of them and make them late.
    """
    landing = Landing(run.events)
    done = threading.Event()
    thread = threading.Thread(target=tick_until, args=(done.is_set, run.tag, *ticker), daemon=True)
    try:
        while time.monotonic() < fault_at + deadline_s:
            try:
                landing.clicks, landing.minute_aggregates, landing.session_pages = counts(dsn, run.tag)
            except psycopg2.OperationalError:
                time.sleep(1)
                continue
            now = time.monotonic()
            if landing.clicks_landed_s is None and landing.clicks >= run.events:
                landing.clicks_landed_s = now - fault_at
                thread.start()
            if landing.exactly_once or landing.duplicated:
                landing.all_landed_s = now - fault_at if landing.exactly_once else None
                break
            time.sleep(1)
    finally:
        done.set()
        if thread.is_alive():
            thread.join(timeout=30)
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


def run_consistency(
    dsn: str, run_id: str, window_from_ms: int, window_to_ms: int, settled_s: float
) -> tuple[int, int, bool]:
    """How far the producer's run is from being counted once: (in the minute aggregates, in session pages, closed).

    Minute aggregates of the windows in [window_from_ms, window_to_ms) (the fault's; articles the
    matrix sends itself left out) minus the run's clicks in those windows; the pages of the run's
    settled sessions minus their clicks. Both are 0 when every click of the run was counted exactly
    once (a record sent twice would count twice, one dropped as late not at all). The producer is
    still sending, and session_stats is written only every so often: a session is settled when its
    newest click is `settled_s` older than the run's newest, so its row has been written since.
    `closed` says the windows are past the watermark (the newest click is ten seconds beyond them).
    """
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "WITH w AS (SELECT to_timestamp(%(f)s / 1000.0) AS f, to_timestamp(%(t)s / 1000.0) AS t),"
            " s AS (SELECT session_id, count(*) AS n, max(event_time) AS newest FROM clicks"
            "       WHERE event_id LIKE %(run)s GROUP BY session_id)"
            " SELECT (SELECT coalesce(sum(clicks), 0) FROM clicks_per_minute_article, w"
            "         WHERE window_start >= f AND window_start < t AND article NOT LIKE 'chaos-%%')"
            " - (SELECT count(*) FROM clicks, w WHERE event_id LIKE %(run)s AND event_time >= f AND event_time < t),"
            " (SELECT coalesce(sum(coalesce(pages, 0) - n), 0) FROM s LEFT JOIN session_stats USING (session_id)"
            "  WHERE newest <= (SELECT max(newest) FROM s) - make_interval(secs => %(settled)s)),"
            " (SELECT max(event_time) FROM clicks) >= (SELECT t FROM w) + interval '10 seconds'",
            {"f": window_from_ms, "t": window_to_ms, "run": f"{run_id}-%", "settled": settled_s},
        )
        aggregates, pages, closed = single_row(cur)
    return int(aggregates), int(pages), bool(closed)
