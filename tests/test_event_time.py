"""The sender cannot move event time: Kafka stamps each record with the broker's clock (LogAppendTime).

A message stamped 59 minutes ahead, in its Kafka timestamp and in its payload, would pass the
"not too far in the future" rule if that rule trusted the sender's timestamp, and drag the
watermark an hour ahead: every click of the next hour would be late and no minute window would
close. Runs on the shared isolated stack (tests/conftest.py).
"""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, TopicPartition

from flink_job.validation import FUTURE_REASON
from tests.conftest import RunningStack
from tests.test_end_to_end import DEADLINE_S, tagged, wait_for_counts
from wikistream.events import ClickEvent
from wikistream.flink_rest import FlinkRest
from wikistream.settings import stack_settings

AHEAD_MS = 59 * 60 * 1000
LOG_APPEND_TIME = 1


def _record(stack: RunningStack, partition: int, offset: int) -> tuple[int, int]:
    """(timestamp_type, timestamp) of one record as Kafka stored it."""
    consumer = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{stack.env['KAFKA_PORT']}", enable_auto_commit=False)
    try:
        where = TopicPartition(stack.env["KAFKA_TOPIC"], partition)
        consumer.assign([where])
        consumer.seek(where, offset)
        records = consumer.poll(timeout_ms=10_000, max_records=1).get(where, [])
        assert records, f"record {partition}/{offset} not read back"
        return records[0].timestamp_type, records[0].timestamp
    finally:
        consumer.close()


def _newest_watermark_ms(stack: RunningStack) -> int:
    """The job's furthest watermark, over every operator's input."""
    rest = FlinkRest(f"http://127.0.0.1:{stack.env['FLINK_REST_PORT']}")
    job_id = rest.live_jobs(stack_settings().flink_job_name)[0].job_id
    marks = [
        int(float(mark["value"]))
        for vertex in (rest.job(job_id) or {}).get("vertices", [])
        for mark in rest.get(f"/jobs/{job_id}/vertices/{vertex['id']}/watermarks") or []
        if mark["id"].endswith("currentInputWatermark")
    ]
    return max(marks, default=0)


def test_a_message_stamped_an_hour_ahead_moves_no_window_and_no_late_count(running_stack: RunningStack) -> None:
    # Other tests may have moved the watermark up to MAX_LEAD ahead, legitimately: start once real
    # time has caught up, so clicks of now are on time unless this test's message moved it. Flink's
    # REST metrics lag up to 10 s (metrics.fetcher.update-interval): watch them for 20 s at least.
    started = time.monotonic()
    furthest = 0
    while True:
        furthest = max(furthest, _newest_watermark_ms(running_stack))
        if time.monotonic() - started >= 20 and furthest < time.time() * 1000:
            break
        assert time.monotonic() - started < 360, "the watermark stays ahead of the clock"
        time.sleep(5)
    tag = f"ahead-{uuid.uuid4().hex[:6]}"
    now_ms = int(time.time() * 1000)
    ahead = ClickEvent(
        f"{tag}-X", f"{tag}-user", f"{tag}-SX", 1, "other-search", f"{tag}-AX", "external", now_ms + AHEAD_MS
    )
    [(partition, offset)] = running_stack.send([(ahead.user_id.encode(), ahead.to_json(), now_ms + AHEAD_MS)])

    stamp_type, stamp = _record(running_stack, partition, offset)
    assert stamp_type == LOG_APPEND_TIME
    assert abs(stamp - now_ms) < 60_000, f"the broker kept the sender's timestamp ({stamp - now_ms} ms from now)"

    deadline = time.monotonic() + DEADLINE_S
    query = "SELECT reason FROM rejected_events WHERE kafka_partition = %s AND kafka_offset = %s"
    while not (reasons := running_stack.query(query, (partition, offset))):
        assert time.monotonic() < deadline, "the message from the future was neither rejected nor kept"
        time.sleep(2)
    assert reasons == [(FUTURE_REASON,)]

    # Clicks of now on every partition: counted in their windows (which close), none of them late.
    events = tagged(tag, 40, int(time.time() * 1000))
    partitions = stack_settings().kafka_topic_partitions
    for index in range(partitions):
        running_stack.send_events(events[index::partitions], partition=index)
    wait_for_counts(running_stack, tag, (40, 40, 40), DEADLINE_S)
    assert running_stack.count("SELECT count(*) FROM late_events WHERE event_id LIKE %s", (f"{tag}-%",)) == 0
    assert running_stack.count("SELECT count(*) FROM clicks WHERE event_id = %s", (ahead.event_id,)) == 0
