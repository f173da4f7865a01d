"""12,000 hostile messages into the running job: it never restarts, and every offset is accounted for.

The corpus (tests/fuzz/corpus.py) mixes arbitrary bytes, arbitrary JSON and valid events with one
thing changed, interleaved with valid events. Each message's Kafka position must end in exactly one
of clicks and rejected_events: a click with exactly the fields the payload holds (the contract's
oracle, tests/fuzz/oracle.py, says which messages are valid), or a rejection with the oracle's
reason and the exact bytes sent. A click's key is its event_id and event time (the partition column
is part of every key, sql/002_tables.sql): two valid messages with the same key are one click (the
newer overwrites), and the row must then be one of them; the same event_id at another time is
another click, as the minute windows count it.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

from kafka import KafkaProducer

from tests.conftest import RunningStack
from tests.fuzz.corpus import Corpus, Message
from tests.fuzz.oracle import judge
from wikistream.events import EVENT_FIELDS
from wikistream.flink_rest import FlinkRest
from wikistream.settings import stack_settings

MESSAGES = 12_000
DEADLINE_S = 240.0


def send(stack: RunningStack, messages: list[Message]) -> list[tuple[int, int, int]]:
    """(partition, offset, record time) of each message; the record time is the broker's (LogAppendTime)."""
    producer = KafkaProducer(
        bootstrap_servers=f"127.0.0.1:{stack.env['KAFKA_PORT']}",
        acks="all",
        enable_idempotence=True,
        max_request_size=1_048_576,
    )
    try:
        futures = [
            producer.send(stack.env["KAFKA_TOPIC"], value=m.payload, timestamp_ms=m.record_time_ms) for m in messages
        ]
        producer.flush(timeout=60)
        return [
            (meta.partition, meta.offset, meta.timestamp) for meta in (future.get(timeout=60) for future in futures)
        ]
    finally:
        producer.close()


def landed(stack: RunningStack, positions: set[tuple[int, int]]) -> tuple[dict, dict]:
    """(clicks by position, rejected_events by position) among the given positions."""
    low = min(offset for _, offset in positions)
    clicks = stack.query(
        "SELECT kafka_partition, kafka_offset, event_id, user_id, session_id, seq, prev, curr, link_type,"
        " (extract(epoch FROM event_time) * 1000)::bigint FROM clicks WHERE kafka_offset >= %s",
        (low,),
    )
    rejected = stack.query(
        "SELECT kafka_partition, kafka_offset, reason, raw_payload FROM rejected_events WHERE kafka_offset >= %s",
        (low,),
    )
    return (
        {(r[0], r[1]): r[2:] for r in clicks if (r[0], r[1]) in positions},
        {(r[0], r[1]): r[2:] for r in rejected if (r[0], r[1]) in positions},
    )


def test_fuzzed_messages_never_restart_the_job_and_every_offset_is_accounted_for(running_stack: RunningStack) -> None:
    rest = FlinkRest(f"http://127.0.0.1:{running_stack.env['FLINK_REST_PORT']}")
    job = rest.live_jobs(stack_settings().flink_job_name)[0]
    failures_before = len(rest.exceptions(job.job_id))
    corpus = Corpus(seed=20261201, tag=f"fz{uuid.uuid4().hex[:6]}", now_ms=int(time.time() * 1000))
    messages = list(corpus.messages(MESSAGES))
    sent = send(running_stack, messages)
    positions = [(partition, offset) for partition, offset, _ in sent]
    by_position = dict(zip(positions, messages, strict=True))
    # The job judges "in the future" against the record time Kafka stored: the broker's clock.
    verdicts = {(p, o): judge(m.payload, stamp) for (p, o, stamp), m in zip(sent, messages, strict=True)}
    valid = {position for position, verdict in verdicts.items() if verdict.reason is None}
    by_key: dict[tuple[str, int], set[tuple[int, int]]] = defaultdict(set)
    for position in valid:
        fields = verdicts[position].fields
        assert fields is not None
        by_key[(str(fields["event_id"]), int(fields["event_time_ms"]))].add(position)
    # Each key lands once; the rows to expect are one per key, all rejections.
    expected = len(by_key) + len(positions) - len(valid)

    deadline = time.monotonic() + DEADLINE_S
    while True:
        clicks, rejected = landed(running_stack, set(positions))
        if len(clicks) + len(rejected) >= expected or time.monotonic() > deadline:
            break
        time.sleep(2)

    assert not set(clicks) & set(rejected), "an offset is in both clicks and rejected_events"
    problems = []
    for (event_id, event_time), candidates in by_key.items():
        rows = [position for position in candidates if position in clicks]
        if len(rows) != 1:
            problems.append(
                f"event {event_id[:40]!r} at {event_time}: {len(rows)} click rows for {len(candidates)} messages"
            )
            continue
        fields = verdicts[rows[0]].fields or {}
        wanted = tuple(fields[spec.name] for spec in EVENT_FIELDS)
        if clicks[rows[0]] != wanted:
            problems.append(f"event {event_id[:40]!r} altered: {clicks[rows[0]]} != {wanted}")
    for position, verdict in verdicts.items():
        if verdict.reason is None:
            continue
        if position not in rejected:
            problems.append(f"{position} ({by_position[position].kind}) neither a click nor rejected: {verdict.reason}")
        elif rejected[position] != (verdict.reason, by_position[position].payload):
            problems.append(
                f"{position}: rejected as {rejected[position][0]!r} with {len(rejected[position][1] or b'')}"
                f" bytes, expected {verdict.reason!r} with {len(by_position[position].payload)}"
            )
    assert not problems, f"{len(problems)} problems, e.g.:\n" + "\n".join(problems[:10])
    assert len(valid) > MESSAGES // 5 and len(positions) - len(valid) > MESSAGES // 3
    # The job took all of it without a restart.
    assert rest.live_jobs(stack_settings().flink_job_name)[0].job_id == job.job_id
    assert len(rest.exceptions(job.job_id)) == failures_before
    assert rest.all_tasks_running(job.job_id)
