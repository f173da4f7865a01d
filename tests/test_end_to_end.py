"""The whole real path: Kafka -> PyFlink on a Flink cluster -> PostgreSQL, started by `python -m stack run`.

The tests in this module share one isolated stack and run in file order: the last ones stop and
restart it.
"""

from __future__ import annotations

import os
import time
import uuid
from contextlib import closing

import psycopg2
import pytest

from tests.conftest import RunningStack
from wikistream.events import ClickEvent

pytestmark = pytest.mark.slow

DEADLINE_S = 120.0
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
            event.event_id, event.user_id, event.session_id, event.seq, event.prev, event.curr, event.type,
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


def test_users_table_holds_5000_users(running_stack: RunningStack) -> None:
    assert running_stack.count("SELECT count(*) FROM users") == 5000


def test_background_producer_rows_keep_arriving(running_stack: RunningStack) -> None:
    query = "SELECT count(*) FROM clicks WHERE event_id NOT LIKE 'e2e-%'"
    before = running_stack.count(query)
    deadline = time.monotonic() + 60
    while running_stack.count(query) <= before:
        assert time.monotonic() < deadline, "no new background clicks within 60 s"
        time.sleep(1)


def embedded_status(stack: RunningStack) -> dict[str, str]:
    """The embedded stack's section of `status`: service name -> its state."""
    result = stack.cli("status")
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("container stack")[0].splitlines()[1:]
    return {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1] for line in section if line.strip()}


def test_status_and_count_rows(running_stack: RunningStack) -> None:
    status = embedded_status(running_stack)
    assert status["flink-job"].startswith("RUNNING")
    for service in ("postgres", "kafka", "flink-jobmanager", "flink-taskmanager", "producer"):
        assert status[service].startswith("up (pid"), status
    counts = running_stack.cli("count-rows")
    assert counts.returncode == 0, counts.stderr
    table = {line.split()[0]: line.split()[1] for line in counts.stdout.splitlines()[1:]}
    assert table["users"] == "5000"
    assert int(table["clicks"]) > 0


def test_running_again_changes_nothing(running_stack: RunningStack) -> None:
    pids_before = sorted(running_stack.pids())
    job_before = embedded_status(running_stack)["flink-job"]
    again = running_stack.cli("run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already RUNNING" in again.stdout
    assert sorted(running_stack.pids()) == pids_before
    job_after = embedded_status(running_stack)["flink-job"]
    assert job_after == job_before
    assert running_stack.count("SELECT count(*) FROM users") == 5000


def test_stop_then_run_resumes_without_duplicates_or_gaps(running_stack: RunningStack) -> None:
    before_stop = known_events(200, "before-stop")
    running_stack.send_events(before_stop)
    pids = running_stack.pids()
    stopped = running_stack.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "savepoint" in stopped.stdout
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"pid {pid} still alive after stop"
    restarted = running_stack.cli("run")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "resuming from" in restarted.stdout
    after_restart = known_events(200, "after-restart")
    running_stack.send_events(after_restart)
    assert_landed_intact(rows_for(running_stack, before_stop + after_restart), before_stop + after_restart)
    # Resuming replays nothing twice: every row's Kafka position is unique.
    assert running_stack.count("SELECT count(*) - count(DISTINCT (kafka_partition, kafka_offset)) FROM clicks") == 0
