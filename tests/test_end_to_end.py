"""The whole real path: Kafka -> PyFlink on a Flink cluster -> PostgreSQL, started by `python -m stack run`.

The tests in this module share one isolated stack and run in file order: the last ones stop and
restart it.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from contextlib import closing

import psycopg2

from stack.supervision import PROGRAMS
from tests.conftest import RunningStack
from wikistream.events import ClickEvent
from wikistream.settings import stack_settings

DEADLINE_S = 120.0
SERVICES = [program.name for program in PROGRAMS]
TITLES = ["Ada_Lovelace", "Zürich", "東京都", "C++", "Rock_'n'_roll", "Main_Page", "Łódź"]


def known_events(count: int, tag: str) -> list[ClickEvent]:
    now_ms = int(time.time() * 1000)
    events = []
    for i in range(count):
        events.append(
            ClickEvent(
                event_id=f"{tag}-{uuid.uuid4()}",
                user_id=f"test-user-{i % 7}",
                session_id=f"{tag}-session-{i % 5}",
                seq=i // 5 + 1,
                prev="other-search" if i % 3 == 0 else TITLES[(i + 1) % len(TITLES)],
                curr=TITLES[i % len(TITLES)],
                type="external" if i % 3 == 0 else "link",
                event_time_ms=now_ms - 30_000 + i,
            )
        )
    return events


def rows_for(stack: RunningStack, events: list[ClickEvent]) -> dict[str, tuple]:
    """Poll until every event has its row (or the deadline passes); returns rows by event id."""
    ids = [event.event_id for event in events]
    deadline = time.monotonic() + DEADLINE_S
    with closing(psycopg2.connect(stack.admin_dsn())) as conn:
        conn.autocommit = True
        while True:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT event_id, user_id, session_id, seq, prev, curr, link_type,"
                    " (extract(epoch FROM event_time) * 1000)::bigint FROM clicks WHERE event_id = ANY(%s)",
                    (ids,),
                )
                rows = {row[0]: row for row in cur.fetchall()}
            if len(rows) == len(ids) or time.monotonic() > deadline:
                return rows
            time.sleep(1)


def assert_landed_intact(rows: dict[str, tuple], events: list[ClickEvent]) -> None:
    assert len(rows) == len(events), f"{len(events) - len(rows)} of {len(events)} events missing after {DEADLINE_S} s"
    for event in events:
        assert rows[event.event_id] == (
            event.event_id,
            event.user_id,
            event.session_id,
            event.seq,
            event.prev,
            event.curr,
            event.type,
            event.event_time_ms,
        )


def offsets(stack: RunningStack, events: list[ClickEvent]) -> dict[str, tuple[int, int]]:
    rows = stack.query(
        "SELECT event_id, kafka_partition, kafka_offset FROM clicks WHERE event_id = ANY(%s)",
        ([event.event_id for event in events],),
    )
    return {event_id: (partition, offset) for event_id, partition, offset in rows}


def test_known_events_land_exactly_once_with_fields_intact(running_stack: RunningStack) -> None:
    events = known_events(300, "e2e")
    running_stack.send_events(events)
    assert_landed_intact(rows_for(running_stack, events), events)
    # The same events again (a producer retry, a replay) overwrite their rows instead of adding:
    # wait until every row carries its new Kafka offset, then count.
    first_offsets = offsets(running_stack, events)
    running_stack.send_events(events)
    deadline = time.monotonic() + DEADLINE_S
    while any(offset == first_offsets[event_id] for event_id, offset in offsets(running_stack, events).items()):
        assert time.monotonic() < deadline, "the re-sent events were not processed in time"
        time.sleep(1)
    assert running_stack.count("SELECT count(*) FROM clicks WHERE event_id LIKE 'e2e-%'") == len(events)


def test_users_table_holds_the_configured_number_of_users(running_stack: RunningStack) -> None:
    assert running_stack.count("SELECT count(*) FROM users") == stack_settings().users_count


def test_background_producer_rows_keep_arriving(running_stack: RunningStack) -> None:
    query = "SELECT count(*) FROM clicks WHERE event_id NOT LIKE 'e2e-%'"
    before = running_stack.count(query)
    deadline = time.monotonic() + 60
    while running_stack.count(query) <= before:
        assert time.monotonic() < deadline, "no new background clicks within 60 s"
        time.sleep(1)


def embedded_status(stack: RunningStack, healthy: bool = True) -> dict[str, str]:
    """The embedded stack's section of `status`: name -> what it says; the exit status must match `healthy`."""
    result = stack.cli("status")
    assert (result.returncode == 0) == healthy, result.stdout + result.stderr
    section = result.stdout.split("container stack")[0].splitlines()[1:]
    return {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1] for line in section if line.strip()}


def test_status_and_count_rows(running_stack: RunningStack) -> None:
    status = embedded_status(running_stack)
    assert status["pipeline"] == "HEALTHY"
    assert status["job"].startswith("RUNNING")
    for service in ("supervisor", *SERVICES):
        assert status[service].startswith("up (pid"), status
    counts = running_stack.cli("count-rows")
    assert counts.returncode == 0, counts.stderr
    table = {line.split()[0]: line.split()[1] for line in counts.stdout.splitlines()[1:]}
    assert table["users"] == str(stack_settings().users_count)
    assert int(table["clicks"]) > 0


def test_running_again_changes_nothing(running_stack: RunningStack) -> None:
    pids_before = sorted(running_stack.pids())
    job_before = embedded_status(running_stack)["job"]
    again = running_stack.cli("run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already RUNNING" in again.stdout
    assert sorted(running_stack.pids()) == pids_before
    job_after = embedded_status(running_stack)["job"]
    assert job_after == job_before
    assert running_stack.count("SELECT count(*) FROM users") == stack_settings().users_count


def tagged(tag: str, count: int, event_time_ms: int, first_seq: int = 1) -> list[ClickEvent]:
    """Events counted by their tag in every table: articles <tag>-A*, one session <tag>-S, seq from first_seq."""
    return [
        ClickEvent(
            f"{tag}-E{first_seq + i}",
            f"{tag}-user",
            f"{tag}-S",
            first_seq + i,
            "other-search",
            f"{tag}-A{i % 4}",
            "external",
            event_time_ms,
        )
        for i in range(count)
    ]


def table_counts(stack: RunningStack, tag: str) -> tuple[int, int, int]:
    """(clicks, sum of the minute aggregates, the session's pages) of a tag."""
    return tuple(
        stack.query(
            "SELECT (SELECT count(*) FROM clicks WHERE event_id LIKE %(e)s),"
            " (SELECT coalesce(sum(clicks), 0) FROM clicks_per_minute_article WHERE article LIKE %(a)s),"
            " (SELECT coalesce(max(pages), 0) FROM session_stats WHERE session_id = %(s)s)",
            {"e": f"{tag}-E%", "a": f"{tag}-A%", "s": f"{tag}-S"},
        )[0]
    )


def wait_for_counts(stack: RunningStack, tag: str, expected: tuple[int, int, int], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while (got := table_counts(stack, tag)) != expected:
        assert time.monotonic() < deadline, f"{tag}: (clicks, aggregates, pages) {got}, expected {expected}"
        time.sleep(2)


def test_stop_then_run_resumes_from_the_savepoint_with_state_and_without_replays(running_stack: RunningStack) -> None:
    """A session and a minute window span the stop: only the restored state gets their totals right.

    Without the savepoint, the job would start from the committed offsets with empty state: the
    session would count only its later pages and the window only its later clicks (both upserts
    overwrite the earlier rows), while the earlier clicks would keep their rows and counts.
    """
    tag = f"resume-{uuid.uuid4().hex[:6]}"
    # A window two minutes ahead stays open through the stop and the start (the watermark follows now).
    window_ms = (int(time.time() * 1000) // 60_000 + 2) * 60_000
    before = tagged(tag, 100, window_ms + 10_000)
    running_stack.send_events(before)
    # The clicks are in; the window is open, so its count is still in the job's state only.
    wait_for_counts(running_stack, tag, (100, 0, 100), DEADLINE_S)
    ingested = dict(
        running_stack.query("SELECT event_id, ingested_at FROM clicks WHERE event_id LIKE %s", (f"{tag}-E%",))
    )
    pids = running_stack.pids()
    stopped = running_stack.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    savepoint = re.search(r"stopped with savepoint (\S+)", stopped.stdout)
    assert savepoint, stopped.stdout
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"pid {pid} still alive after stop"
    restarted = running_stack.cli("run")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert f"resumed from {savepoint.group(1)}" in restarted.stdout
    after = tagged(tag, 50, window_ms + 20_000, first_seq=101)
    running_stack.send_events(after)
    # The window closes once the background clicks' watermark passes it (about three minutes).
    wait_for_counts(running_stack, tag, (150, 150, 150), 300)
    # Nothing before the stop was read again: its rows were not rewritten.
    assert (
        dict(
            running_stack.query("SELECT event_id, ingested_at FROM clicks WHERE event_id = ANY(%s)", (list(ingested),))
        )
        == ingested
    )
