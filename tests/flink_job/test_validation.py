"""The job's validation (JSON_FIELDS + SQL), run by a real local Flink on payloads of every malformed kind.

Two checks: a table of hand-picked cases with the exact reason each must get, and a fuzzed corpus
(tests/fuzz/corpus.py) on which the job must agree, message by message, with the contract's
independent reading in tests/fuzz/oracle.py: same verdict, same reason, same field values.
"""

from __future__ import annotations

import json
import time

import pytest

from flink_job.settings import JobSettings
from flink_job.validation import TICK_REASONS, field_sql, function_ddl, parse_sql, reject_reason_sql, rowtime_sql
from tests.fuzz.corpus import Corpus
from tests.fuzz.oracle import judge
from wikistream.events import EVENT_FIELDS, INT32_MAX, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS, TICK_HEADER

pytestmark = pytest.mark.slow

KAFKA_TS_MS = 1_764_000_000_000
GOOD = {
    "event_id": "e-1",
    "user_id": "u-1",
    "session_id": "s-1",
    "seq": 1,
    "prev": "other-search",
    "curr": "Zürich",
    "type": "external",
    "event_time_ms": KAFKA_TS_MS - 1000,
}


def _with(**changes: object) -> bytes:
    payload = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")


CASES: list[tuple[bytes, str | None]] = [
    (_with(), None),
    (_with(prev="Ada_Lovelace", type="link", curr="東京都"), None),
    (_with(curr="😀\u200f\u202eעברית"), None),
    (_with(seq=INT32_MAX, event_time_ms=MIN_EVENT_TIME_MS), None),
    (_with(extra={"nested": [1, 2]}), None),
    (b"not json at all", "not a JSON object"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b'{"event_id": "e-1", ', "not a JSON object"),
    (_with() + b" trailing", "not a JSON object"),
    (b"", "empty message"),
    (_with()[:-1] + b', "seq": 2}', "duplicate field"),
    (b"x" * 20000, "oversized message (over 16384 bytes)"),
    (b"\xff\xfe{}", "invalid UTF-8"),
    (_with(curr="A\udc00B"), "invalid UTF-8"),
    # An overlong NUL: decoders that are not strict turn it into U+0000.
    (_with(curr="OverXlong").replace(b"X", b"\xc0\x80"), "invalid UTF-8"),
    (_with(event_id=...), "missing field: event_id"),
    (_with(user_id=None), "missing field: user_id"),
    (_with(event_id=42), "mistyped field: event_id (expected string)"),
    (_with(seq="1"), "mistyped field: seq (expected integer)"),
    (_with(seq=1.5), "mistyped field: seq (expected integer)"),
    (_with(seq=True), "mistyped field: seq (expected integer)"),
    (_with(seq=INT32_MAX + 1), "out of range: seq"),
    (_with(seq=10**40), "out of range: seq"),
    (_with(seq=0), "out of range: seq"),
    (_with(event_time_ms="yesterday"), "mistyped field: event_time_ms (expected integer)"),
    (_with(event_time_ms=MIN_EVENT_TIME_MS - 1), "out of range: event_time_ms"),
    (_with(event_time_ms=MAX_EVENT_TIME_MS + 1), "out of range: event_time_ms"),
    (_with(event_time_ms=KAFKA_TS_MS + 3_600_000), "out of range: event_time_ms (in the future)"),
    (_with(curr=""), "empty field: curr"),
    (_with(curr="A" * 513), "oversized field: curr"),
    (_with(curr="東" * 512), None),
    (_with(curr="Nul\x00Title"), "control character in field: curr"),
    (json.dumps(GOOD | {"curr": "Lone\ud800"}).encode(), "invalid Unicode (lone surrogate) in field: curr"),
    (_with(prev="line\nbreak"), "control character in field: prev"),
    (_with(type="click"), "unknown value in field: type"),
]


def _tick(value: bytes) -> dict[str, bytearray]:
    return {TICK_HEADER: bytearray(value)}


# (payload, headers, reason, rowtime ms): a valid tick is neither a click nor rejected, and only a
# valid tick or click carries a time; anything rejected is stamped at the epoch.
TICK_CASES: list[tuple[bytes, dict[str, bytearray], str | None, int]] = [
    (b"", _tick(str(KAFKA_TS_MS - 500).encode()), None, KAFKA_TS_MS - 500),
    (b"", _tick(str(KAFKA_TS_MS + 60_000).encode()), None, KAFKA_TS_MS + 60_000),
    (_with(), _tick(str(KAFKA_TS_MS).encode()), TICK_REASONS["payload"], 0),
    (b"", _tick(b"soon"), TICK_REASONS["time"], 0),
    (b"", _tick(b"\xff\xfe"), TICK_REASONS["time"], 0),
    (b"", _tick(b""), TICK_REASONS["time"], 0),
    (b"", _tick(str(MIN_EVENT_TIME_MS - 1).encode()), TICK_REASONS["range"], 0),
    (b"", _tick(str(KAFKA_TS_MS + 3_600_000).encode()), TICK_REASONS["future"], 0),
    # Other headers change nothing: a click with them is a click.
    (_with(), {"trace-id": bytearray(b"abc")}, None, GOOD["event_time_ms"]),
]


@pytest.fixture(scope="module")
def t_env():
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    env.get_config().set("table.local-time-zone", "UTC")
    env.get_config().set("parallelism.default", "1")
    env.get_config().set("pipeline.jars", ";".join(JobSettings(POSTGRES_WRITER_PASSWORD="unused").jar_uris()))
    env.execute_sql(function_ddl())
    return env


def _judged_by_the_job(t_env, messages: list[tuple[bytes, int]], headers: list[dict] | None = None) -> dict[int, tuple]:
    """{index: (reason, rowtime, field values...)} for each (payload, Kafka record time ms), with headers."""
    from pyflink.table import DataTypes

    headers = headers or [{} for _ in messages]
    rows = [(i, bytearray(payload), ts, headers[i]) for i, (payload, ts) in enumerate(messages)]
    source = t_env.from_elements(
        rows,
        DataTypes.ROW(
            [
                DataTypes.FIELD("id", DataTypes.INT()),
                DataTypes.FIELD("payload", DataTypes.BYTES()),
                DataTypes.FIELD("ts", DataTypes.BIGINT()),
                DataTypes.FIELD("headers", DataTypes.MAP(DataTypes.STRING(), DataTypes.BYTES())),
            ]
        ),
    )
    view = f"payloads_{time.monotonic_ns()}"
    t_env.create_temporary_view(view, source)
    fields = ", ".join(field_sql("parsed", spec.name) for spec in EVENT_FIELDS)
    query = f"""
        SELECT id, {reject_reason_sql("parsed", "kafka_ts", "payload", "headers")} AS reason,
               CAST({rowtime_sql("parsed", "kafka_ts", "payload", "headers")} AS TIMESTAMP(3)) AS rowtime, {fields}
        FROM (
            SELECT id, kafka_ts, payload, headers, {parse_sql(16384)} AS parsed
            FROM (SELECT id, payload, headers, TO_TIMESTAMP_LTZ(ts, 3) AS kafka_ts FROM {view})
        )
    """
    with t_env.execute_sql(query).collect() as results:
        return {row[0]: tuple(row[1:]) for row in results}


def test_every_malformed_kind_gets_its_reason_and_valid_events_pass(t_env) -> None:
    got = _judged_by_the_job(t_env, [(payload, KAFKA_TS_MS) for payload, _ in CASES])
    assert {i: got[i][0] for i in got} == {i: reason for i, (_, reason) in enumerate(CASES)}
    # A valid payload's time is the event time; a rejected one carries none (the epoch moves no watermark).
    valid_time, future_time = got[0][1], got[CASES.index(next(c for c in CASES if "future" in str(c[1])))][1]
    assert int(valid_time.timestamp() * 1000) == GOOD["event_time_ms"]
    assert int(future_time.timestamp() * 1000) == 0


def test_a_valid_tick_carries_only_its_time_and_an_invalid_one_is_rejected(t_env) -> None:
    got = _judged_by_the_job(
        t_env, [(payload, KAFKA_TS_MS) for payload, *_ in TICK_CASES], [headers for _, headers, *_ in TICK_CASES]
    )
    assert {i: (got[i][0], int(got[i][1].timestamp() * 1000)) for i in got} == {
        i: (reason, rowtime) for i, (_, _, reason, rowtime) in enumerate(TICK_CASES)
    }


def test_the_job_agrees_with_the_contract_on_a_fuzzed_corpus(t_env) -> None:
    corpus = Corpus(seed=20261201, tag="fz", now_ms=KAFKA_TS_MS)
    messages = list(corpus.messages(6000))
    got = _judged_by_the_job(t_env, [(m.payload, m.record_time_ms) for m in messages])
    disagreements = []
    for i, message in enumerate(messages):
        verdict = judge(message.payload, message.record_time_ms)
        reason, _rowtime, *values = got[i]
        # A valid click's fields must come out exactly as the payload holds them.
        intact = verdict.fields is None or values == [str(verdict.fields[spec.name]) for spec in EVENT_FIELDS]
        if reason != verdict.reason or not intact:
            disagreements.append((message.kind, message.payload[:120], reason, verdict.reason))
    valid = sum(1 for i in got if got[i][0] is None)
    assert not disagreements, f"{len(disagreements)} of {len(messages)} disagree, e.g. {disagreements[:5]}"
    # The corpus must exercise both sides.
    assert 0.2 * len(messages) < valid < 0.6 * len(messages)
